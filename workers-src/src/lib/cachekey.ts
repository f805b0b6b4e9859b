// The edge cache's one key function. The key is a hash of exactly what the
// model receives, the Messages request as the hooks built it (from the input
// lib/normalize.ts already cleaned), in canonical JSON, plus a scope. Two
// questions share an answer only when the model would see the same request.

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort(); // by UTF-16 code units, as RFC 8785 sorts
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/**
 * The canonical JSON of a value as it goes over the wire (JSON.stringify
 * first, so undefined fields and toJSON are what the model API would see):
 * object keys sorted, no whitespace.
 */
export function canonicalJson(value: unknown): string {
  const wire = JSON.stringify(value);
  return wire === undefined ? "null" : canonical(JSON.parse(wire));
}

/**
 * `ai:<sha-256 hex>` of the canonical JSON of {request, scope}. The scope is
 * whatever besides the request must keep answers apart ("" for a product's
 * one shared cache; a customer's, with customer keys).
 */
export async function cacheKey(request: unknown, scope = ""): Promise<string> {
  return "ai:" + (await sha256Hex(canonicalJson({ request, scope })));
}
