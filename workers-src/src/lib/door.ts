// The door: each product's POST is limited per caller, so that one caller's
// burst leaves the others served. (The model limiter, lib/ratelimit.ts, stays
// product-wide in front of model calls.) The limiter is a ratelimit binding
// (DOOR_LIMITER, counted per Cloudflare location by the platform, period
// 60 s: templates/common.tmpl); the caller is a key of it: the client
// address where there are no customer keys, else the customer.
import { HttpError } from "./errors";
import { customerOf } from "./keys";

/** The binding does not say when its window ends; its period is 60 s (templates/common.tmpl). */
const DOOR_RETRY_AFTER = "60";

/**
 * The caller of a request: the customer of a product with keys, else its
 * client address.
 * Cloudflare sets cf-connecting-ip on every request it passes to a Worker
 * (a client's own header of that name is replaced), so a caller cannot pose
 * as another. Without it (a local runtime that does not set it) every
 * request is one caller.
 */
export function callerByAddress(request: Request): string {
  // A product with keys: the customer its key names (lib/keys.ts).
  const customer = customerOf(request);
  if (customer) return `customer:${customer}`;
  const ip = request.headers.get("cf-connecting-ip")?.trim();
  return `ip:${ip || "unknown"}`;
}

/**
 * Lets `units` through the door for one caller: one limit() call per unit
 * (limit() carries no weight, so an async pipeline's POST of n jobs makes n
 * calls, at most 100, well inside the 1,000 Cloudflare-service subrequests
 * an invocation may make on Workers Free), stopping at the first refusal:
 * 429 rate_limited, and nothing of the request is done (the units counted
 * before the refusal stay counted: the binding cannot give them back). 503
 * when the binding fails.
 */
export async function passDoor(limiter: RateLimit, caller: string, units = 1, what = "requests"): Promise<void> {
  for (let i = 0; i < units; i++) {
    let ok: boolean;
    try {
      ok = (await limiter.limit({ key: caller })).success;
    } catch (err) {
      console.error("DOOR_LIMITER failed:", err);
      throw new HttpError(503, "unavailable", "the rate limiter is unavailable; retry later", { "retry-after": "30" });
    }
    if (!ok) {
      throw new HttpError(429, "rate_limited", `too many ${what} from this caller; retry later`, { "retry-after": DOOR_RETRY_AFTER });
    }
  }
}
