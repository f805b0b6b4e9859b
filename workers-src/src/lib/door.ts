// The door: each product's POST is limited per caller, so that one caller's
// burst leaves the others served. (The model limiter, lib/ratelimit.ts, stays
// product-wide in front of model calls.) A request passes one door, a
// ratelimit binding (counted per Cloudflare location by the platform, period
// 60 s: templates/common.tmpl), chosen by doorFor:
// - a product with customer keys: the door of the customer's tier
//   (DOOR_<TIER>, the tier's requests a minute), keyed by the customer;
// - a public product: DOOR_LIMITER (doorLimitPerMinute), keyed by the
//   client address.
// Each limit() is a call to the platform (a Durable Object call in Miniflare,
// about 1 ms: docs/BENCHMARKS.md), so a request makes no more than its units.
import type { BaseEnv } from "../env";
import { HttpError } from "./errors";
import { callerOf } from "./keys";

/** The binding does not say when its window ends; its period is 60 s (templates/common.tmpl). */
const DOOR_RETRY_AFTER = "60";

/** The one door a request passes: its limiter, the key it is counted under, and, for a customer, what its 429 says. */
export interface Door {
  limiter: RateLimit | undefined;
  key: string;
  /** the 429's message; "" for a public product's (then it names what is counted) */
  refusal: string;
}

/**
 * The door of a request: the tier door of the customer requireKey let in
 * (lib/keys.ts), DOOR_<TIER> (else the default tier's, DOOR_STANDARD),
 * keyed by customer; else DOOR_LIMITER keyed by the client address.
 * Cloudflare sets cf-connecting-ip on every request it passes to a Worker
 * (a client's own header of that name is replaced), so a caller cannot pose
 * as another. Without it (a local runtime that does not set it) every
 * request is one caller.
 */
export function doorFor(env: BaseEnv & { DOOR_LIMITER?: RateLimit }, request: Request): Door {
  const c = callerOf(request);
  if (c) {
    const e = env as unknown as Record<string, RateLimit | undefined>;
    return { limiter: e[`DOOR_${c.tier.toUpperCase()}`] ?? e.DOOR_STANDARD, key: c.customer, refusal: `customer ${c.customer} is over the ${c.tier} tier's requests a minute` };
  }
  const ip = request.headers.get("cf-connecting-ip")?.trim();
  return { limiter: env.DOOR_LIMITER, key: `ip:${ip || "unknown"}`, refusal: "" };
}

/**
 * Lets `units` through a door: one limit() call per unit (limit() carries no
 * weight, so an async pipeline's POST of n jobs makes n calls, at most 100,
 * well inside the 1,000 Cloudflare-service subrequests an invocation may
 * make on Workers Free), stopping at the first refusal: 429 rate_limited,
 * and nothing of the request is done (the units counted before the refusal
 * stay counted: the binding cannot give them back). 503 when the binding
 * fails or is missing.
 */
export async function passDoor(door: Door, units = 1, what = "requests"): Promise<void> {
  for (let i = 0; i < units; i++) {
    let ok: boolean;
    try {
      ok = (await door.limiter!.limit({ key: door.key })).success;
    } catch (err) {
      console.error("the door limiter failed:", err);
      throw new HttpError(503, "unavailable", "the rate limiter is unavailable; retry later", { "retry-after": "30" });
    }
    if (!ok) {
      throw new HttpError(429, "rate_limited", door.refusal || `too many ${what} from this caller; retry later`, { "retry-after": DOOR_RETRY_AFTER });
    }
  }
}
