// Parses the plain-text vars (docs/design.md) into numbers, with the documented
// defaults. A missing, blank or non-numeric var takes its default; numbers are
// clamped into a safe range rather than rejected (the Go side validates config).
import type { BaseEnv, PatternVars } from "../env";

export interface Config {
  product: string;
  model: string;
  baseUrl: string;
  systemPrompt: string;
  maxInputChars: number;
  maxOutputTokens: number;
  modelTimeoutMs: number;
  rateLimitPerMinute: number;
  jobTtlSeconds: number;
  retryDelaySeconds: number;
  deadLetterQueue: string;
  cacheTtlSeconds: number;
  kvInlineMaxBytes: number;
}

function int(value: unknown, def: number, min: number, max: number): number {
  if (typeof value !== "string" || !/^\s*\d+\s*$/.test(value)) return def;
  return Math.min(max, Math.max(min, Number(value)));
}

function str(value: unknown, def: string): string {
  return typeof value === "string" && value.trim() !== "" ? value : def;
}

export function readConfig(env: BaseEnv & PatternVars): Config {
  return {
    product: str(env.PRODUCT, "unnamed"),
    model: str(env.MODEL, "claude-haiku-4-5"),
    baseUrl: str(env.ANTHROPIC_BASE_URL, "https://api.anthropic.com").trim().replace(/\/+$/, ""),
    systemPrompt: typeof env.SYSTEM_PROMPT === "string" ? env.SYSTEM_PROMPT : "",
    maxInputChars: int(env.MAX_INPUT_CHARS, 4000, 1, 1_000_000),
    maxOutputTokens: int(env.MAX_OUTPUT_TOKENS, 1024, 1, 1_000_000),
    modelTimeoutMs: int(env.MODEL_TIMEOUT_MS, 20_000, 50, 900_000),
    rateLimitPerMinute: int(env.RATE_LIMIT_PER_MINUTE, 60, 1, 1_000_000_000),
    jobTtlSeconds: int(env.JOB_TTL_SECONDS, 3600, 60, 1_000_000_000),
    retryDelaySeconds: int(env.RETRY_DELAY_SECONDS, 30, 0, 43_200),
    deadLetterQueue: str(env.DEAD_LETTER_QUEUE, ""),
    cacheTtlSeconds: int(env.CACHE_TTL_SECONDS, 86_400, 60, 1_000_000_000),
    // KV values may be up to 25 MiB; keep inline answers well below that.
    kvInlineMaxBytes: int(env.KV_INLINE_MAX_BYTES, 16_384, 0, 20 * 1024 * 1024),
  };
}
