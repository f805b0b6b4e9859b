// The limiter in front of every model call, keyed by product.
//
// With the RATE_LIMITER binding (type ratelimit) the platform counts. Without
// it, a KV fallback keeps a fixed one-minute window counter at
// rl:<product>:<minute> in the pattern's KV namespace. The fallback is
// APPROXIMATE: KV is eventually consistent (other locations may read a stale
// count for up to a minute), read-then-write races between concurrent requests
// can both pass, and KV allows about one write per second per key, so under
// load some increments are dropped (failed writes are ignored rather than
// refusing traffic). Each allowed call costs one KV write (free tier: 1,000
// writes/day). Prefer the binding in production.
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

export async function checkRateLimit(env: BaseEnv, cfg: Config, kv: KVNamespace): Promise<RateDecision> {
  if (env.RATE_LIMITER) {
    const { success } = await env.RATE_LIMITER.limit({ key: cfg.product });
    return { ok: success, retryAfter: success ? 0 : BINDING_RETRY_AFTER };
  }
  const now = Date.now();
  const minute = Math.floor(now / 60_000);
  const key = `rl:${cfg.product}:${minute}`;
  const count = Number.parseInt((await kv.get(key)) ?? "0", 10) || 0;
  if (count >= cfg.rateLimitPerMinute) {
    return { ok: false, retryAfter: Math.max(1, Math.ceil(((minute + 1) * 60_000 - now) / 1000)) };
  }
  try {
    await kv.put(key, String(count + 1), { expirationTtl: 120 });
  } catch (err) {
    console.warn("rate limiter: KV counter write failed (allowing the call):", err);
  }
  return { ok: true, retryAfter: 0 };
}

/** checkRateLimit, as a 429 for HTTP handlers. */
export async function enforceRateLimit(env: BaseEnv, cfg: Config, kv: KVNamespace): Promise<void> {
  const d = await checkRateLimit(env, cfg, kv);
  if (!d.ok) {
    throw new HttpError(429, "rate_limited", `rate limit reached for ${cfg.product}; retry later`, {
      "retry-after": String(d.retryAfter),
    });
  }
}
