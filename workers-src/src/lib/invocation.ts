// What one Worker invocation (a request, a queue delivery, a cron run) may
// make, stated once, in Go (internal/contract/invocation, generated into
// contract.gen.ts): each number's source is there. A Worker does not know its
// account's plan (no var carries it), so the bounds are Workers Free's; Paid
// allows more of each.
//
//   - external subrequests (fetch): FREE_FETCHES, 50 on Free;
//   - subrequests to Cloudflare services (R2, KV, queues, the rate limiter):
//     SERVICE_CALLS, 1,000;
//   - D1 queries: FREE_D1_QUERIES, 50 per invocation on Free (1,000 on
//     Paid). Counted here as round trips: one statement run alone, or one
//     db.batch (lib/spend/store.ts's run);
//   - D1_PER_RECORD: a recorded model call's upsert and its one retry
//     (lib/spend/guard.ts recordSpend); D1_PER_ALERT_CLAIM: a record's
//     alerts' claim, one round trip (lib/spend/alerts.ts);
//   - ALERT_ROOM: what an invocation with a spend store keeps for budget
//     alerts, a webhook POST (a fetch) for each threshold crossed and a D1
//     DELETE to release the claim when that POST fails: the default
//     thresholds (DEFAULT_THRESHOLDS, 50, 80, 100 %) of the three scopes a
//     record can cross (the product, the stack, the job's customer), 9 of
//     each. An alert sent is not sent again this month, so one invocation
//     crosses each at most once; more meets the limit: the POST throws,
//     alerts.ts releases the claim (or logs that it could not) and a later
//     record sends it.
//
// Miniflare enforces none of them: the tests count the calls themselves
// (test/async-pipeline/limits.test.ts, test/batch/poll-d1.test.ts).
export { ALERT_ROOM, D1_PER_ALERT_CLAIM, D1_PER_RECORD, FREE_D1_QUERIES, FREE_FETCHES, SERVICE_CALLS } from "../contract.gen";
