// Parses the plain-text vars (docs/design.md) into numbers, with the Go
// defaults (VAR_DEFAULTS of contract.gen.ts, generated from internal/stack). A
// missing, blank or non-numeric var takes its default; numbers are clamped into
// a safe range rather than rejected (the Go side validates config).
import type { BaseEnv, PatternVars } from "../env";
import { VAR_DEFAULTS as D } from "../contract.gen";

export interface Config {
  product: string;
  model: string;
  baseUrl: string;
  systemPrompt: string;
  maxInputChars: number;
  maxOutputTokens: number;
  modelTimeoutMs: number;
  rateLimitPerMinute: number;
  retryDelaySeconds: number;
  deadLetterQueue: string;
  cacheTtlSeconds: number;
  /** async-pipeline: "realtime" (the Messages API, the default) or "batch" (the Message Batches API, lib/batch/) */
  modelMode: ModelModeSetting;
  /** async-pipeline: the consumer's max_retries; in batch mode also the resubmissions a job's batch requests may have */
  maxRetries: number;
}

export type ModelModeSetting = "realtime" | "batch";

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
    model: str(env.MODEL, D.MODEL),
    baseUrl: str(env.ANTHROPIC_BASE_URL, D.ANTHROPIC_BASE_URL).trim().replace(/\/+$/, ""),
    systemPrompt: typeof env.SYSTEM_PROMPT === "string" ? env.SYSTEM_PROMPT : "",
    maxInputChars: int(env.MAX_INPUT_CHARS, D.MAX_INPUT_CHARS, 1, 1_000_000),
    maxOutputTokens: int(env.MAX_OUTPUT_TOKENS, D.MAX_OUTPUT_TOKENS, 1, 1_000_000),
    modelTimeoutMs: int(env.MODEL_TIMEOUT_MS, D.MODEL_TIMEOUT_MS, 50, 900_000),
    rateLimitPerMinute: int(env.RATE_LIMIT_PER_MINUTE, D.RATE_LIMIT_PER_MINUTE, 1, 1_000_000_000),
    retryDelaySeconds: int(env.RETRY_DELAY_SECONDS, D.RETRY_DELAY_SECONDS, 0, 43_200),
    deadLetterQueue: str(env.DEAD_LETTER_QUEUE, ""),
    cacheTtlSeconds: int(env.CACHE_TTL_SECONDS, D.CACHE_TTL_SECONDS, 60, 1_000_000_000),
    // Read defensively: MODEL_MODE and MAX_RETRIES are absent from configs
    // rendered before batch mode (and from other patterns'): realtime, and
    // the Go default.
    modelMode: modelMode((env as Record<string, unknown>).MODEL_MODE),
    maxRetries: int((env as Record<string, unknown>).MAX_RETRIES, D.MAX_RETRIES, 0, 100),
  };
}

/** MODEL_MODE: "batch" (any case, trimmed) is batch mode; anything else, missing included, is realtime. */
export function modelMode(value: unknown): ModelModeSetting {
  return typeof value === "string" && value.trim().toLowerCase() === "batch" ? "batch" : "realtime";
}
