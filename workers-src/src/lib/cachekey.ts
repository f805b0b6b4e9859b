// Cache keys for edge-cache: normalise the input so that trivially different
// questions share an entry, then hash it (KV keys are at most 512 bytes).

/**
 * NFKC, lower case, whitespace collapsed, punctuation and invisible format or
 * control characters removed, trimmed. Letters, marks, numbers and symbols
 * (so "c++" stays distinct from "c") of every script are kept.
 */
export function normalizeInput(input: string): string {
  return input
    .normalize("NFKC")
    .toLowerCase()
    .replace(/\s+/gu, " ")
    .replace(/[\p{P}\p{Cc}\p{Cf}]+/gu, "")
    .replace(/ {2,}/g, " ")
    .trim();
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * `ai:<sha-256 hex>` of the normalised input. A non-empty scope (the model and
 * system prompt, see cacheScope) is hashed in front of it, so that changing
 * either does not serve answers the old setup gave.
 */
export async function cacheKey(input: string, scope = ""): Promise<string> {
  const norm = normalizeInput(input);
  return "ai:" + (await sha256Hex(scope === "" ? norm : `${scope}\u0000${norm}`));
}

/** What, besides the question, decides an answer. */
export function cacheScope(cfg: { model: string; systemPrompt: string }): string {
  return `${cfg.model}\n${cfg.systemPrompt}`;
}
