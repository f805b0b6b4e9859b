// What one Worker invocation (a request, a queue delivery, a cron run) may
// make, stated once. A Worker does not know its account's plan (no var
// carries it), so the bounds are Workers Free's; Paid allows more of each.
//
//   - external subrequests (fetch): 50 on Free
//     (https://developers.cloudflare.com/workers/platform/limits/#subrequests);
//   - subrequests to Cloudflare services (R2, KV, queues, the rate limiter):
//     1,000 (same page);
//   - D1 queries: 50 per invocation on Free, 1,000 on Paid
//     (https://developers.cloudflare.com/d1/platform/limits/, "Queries per
//     Worker invocation"). Counted here as round trips: one statement run
//     alone, or one db.batch (lib/spend/store.ts's run).
//
// Miniflare enforces none of them: the tests count the calls themselves
// (test/async-pipeline/limits.test.ts, test/batch/poll-d1.test.ts).
import { DEFAULT_THRESHOLDS } from "./spend/config";

/** External fetches one invocation may make on Workers Free. */
export const FREE_FETCHES = 50;
/** D1 queries one invocation may make on Workers Free. */
export const FREE_D1_QUERIES = 50;
/** Calls to Cloudflare services one invocation may make (the D1 queries among them). */
export const SERVICE_CALLS = 1_000;

/**
 * D1 round trips of one recorded model call (lib/spend/guard.ts recordSpend):
 * the upsert, and its one retry when the first try failed.
 */
export const D1_PER_RECORD = 2;
/**
 * D1 round trips of a record's alerts (lib/spend/alerts.ts): the claim of
 * every threshold it reached and this isolate has not sent, in one round trip.
 */
export const D1_PER_ALERT_CLAIM = 1;

/**
 * Room an invocation with a spend store keeps for budget alerts: a webhook
 * POST (a fetch) for each threshold crossed, and a D1 DELETE to release the
 * claim when that POST fails (alerts.ts). The default thresholds (50, 80,
 * 100 %) of the three scopes a record can cross (the product, the stack, the
 * job's customer): 9 of each. An alert sent is not sent again this month, so
 * one invocation crosses each at most once; more (many customers crossing in
 * one invocation, more thresholds, a webhook down that each later record
 * tries again) meets the limit: the POST throws, alerts.ts releases the claim
 * (or logs that it could not) and a later record sends it.
 */
export const ALERT_ROOM = DEFAULT_THRESHOLDS.length * 3;
