// The limiter in front of every model call, keyed by product: the
// RATE_LIMITER binding (type ratelimit, counted per Cloudflare location by the
// platform, free). It is always bound; there is no KV fallback any more (a KV
// counter cost a write per model call, and KV takes 1,000 writes a day on the
// free plan).
import type { BaseEnv } from "../env";
import type { Config } from "./config";
import { HttpError } from "./errors";

export interface RateDecision {
  ok: boolean;
  /** seconds until a retry may pass (0 when ok) */
  retryAfter: number;
}

/** The binding does not say when its window ends; its period is at most 60 s. */
const BINDING_RETRY_AFTER = 60;

/** Asks the binding. Throws what the binding throws. */
export async function checkRateLimit(env: BaseEnv, cfg: Config): Promise<RateDecision> {
  const { success } = await env.RATE_LIMITER.limit({ key: cfg.product });
  return { ok: success, retryAfter: success ? 0 : BINDING_RETRY_AFTER };
}

/** checkRateLimit for HTTP handlers: 429 when limited, 503 when the binding fails. */
export async function enforceRateLimit(env: BaseEnv, cfg: Config): Promise<void> {
  let d: RateDecision;
  try {
    d = await checkRateLimit(env, cfg);
  } catch (err) {
    console.error("RATE_LIMITER failed:", err);
    throw new HttpError(503, "unavailable", "the rate limiter is unavailable; retry later", { "retry-after": "30" });
  }
  if (!d.ok) {
    throw new HttpError(429, "rate_limited", `rate limit reached for ${cfg.product}; retry later`, {
      "retry-after": String(d.retryAfter),
    });
  }
}
