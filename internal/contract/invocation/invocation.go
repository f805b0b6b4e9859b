// Package invocation states, once, what one Worker invocation (a request, a
// queue delivery, a cron run) may make on Workers Free, what one job of an
// async pipeline's realtime delivery makes at worst, and so how many jobs a
// delivery runs (DeliveryMaxJobs). It imports nothing, so that both
// internal/stack (the default batchSize) and internal/contract (which writes
// these numbers into workers-src/src/contract.gen.ts for lib/invocation.ts and
// patterns/async-pipeline/pack.ts) can use it.
//
// A Worker does not know its account's plan (no var carries it), so the
// bounds are Workers Free's; Paid allows more of each. Miniflare enforces
// none of them: the Worker tests count the calls themselves
// (workers-src/test/async-pipeline/limits.test.ts, test/batch/poll-d1.test.ts).
package invocation

const (
	// FreeFetches is how many external subrequests (fetch) one invocation
	// may make on Workers Free:
	// https://developers.cloudflare.com/workers/platform/limits/#subrequests
	FreeFetches = 50
	// FreeD1Queries is how many D1 queries one invocation may make on
	// Workers Free (1,000 on Paid):
	// https://developers.cloudflare.com/d1/platform/limits/ ("Queries per
	// Worker invocation"). Counted as round trips: one statement run alone,
	// or one db.batch (workers-src/src/lib/spend/store.ts's run).
	FreeD1Queries = 50
	// ServiceCalls is how many subrequests to Cloudflare services (R2, KV,
	// queues, the rate limiter, D1) one invocation may make: 1,000 (same
	// page as FreeFetches).
	ServiceCalls = 1_000

	// D1PerRecord is the D1 round trips of one recorded model call
	// (lib/spend/guard.ts recordSpend): the upsert, and its one retry when
	// the first try failed.
	D1PerRecord = 2
	// D1PerAlertClaim is the D1 round trips of a record's alerts
	// (lib/spend/alerts.ts): the claim of every threshold it reached and
	// this isolate has not sent, in one round trip.
	D1PerAlertClaim = 1
	// D1PerBudgetCheck is the budget check before a model call
	// (lib/spend/guard.ts): one round trip.
	D1PerBudgetCheck = 1

	// AlertThresholds is how many budget thresholds the default has (50, 80,
	// 100 %: stack.DefaultBudgetAlertThresholds and lib/spend/config.ts
	// DEFAULT_THRESHOLDS, which tests hold equal to it), and AlertScopes the
	// scopes a record can cross one in: the product, the stack, the job's
	// customer.
	AlertThresholds = 3
	AlertScopes     = 3
	// AlertRoom is what an invocation with a spend store keeps for budget
	// alerts: a webhook POST (a fetch) for each threshold crossed, and a D1
	// DELETE to release the claim when that POST fails (alerts.ts): 9 of
	// each. An alert sent is not sent again this month, so one invocation
	// crosses each at most once; more (many customers crossing in one
	// invocation, more thresholds, a webhook down that each later record
	// tries again) meets the limit: the POST throws, alerts.ts releases the
	// claim (or logs that it could not) and a later record sends it.
	AlertRoom = AlertThresholds * AlertScopes

	// ModelAttempts is how many model requests a realtime delivery gives one
	// job (workers-src/src/patterns/async-pipeline/consumer.ts MODEL_ATTEMPTS,
	// stack.PipelineAttempts; tests hold them equal).
	ModelAttempts = 2

	// PackMaxJobs is the most jobs one async-pipeline queue message carries
	// (workers-src/src/lib/pack.ts; contract.PackMaxJobs): a full pack is
	// one DeliveryMaxJobs(true), so a delivery with a spend store runs at
	// least one. A pack also stays within one 64 KB Queues billing unit.
	PackMaxJobs = 10
)

// Cost is what one job makes in an invocation, per limit.
type Cost struct {
	Fetches, D1, ServiceCalls int
}

// JobCost is what one job of a realtime delivery may make at worst
// (consumer.ts processMessage, the longest path):
//
//   - external fetches: ModelAttempts (2) model requests;
//   - D1 queries, with a spend store: the budget check (1, guard.ts), the
//     record (D1PerRecord: the upsert and its one retry) and its alerts'
//     claim (1): 4. A parked job makes fewer: the check, the park and its
//     take-back (3, lib/spend/parked.ts);
//   - Cloudflare-service calls: the record's read, the limiter, the key's KV
//     read (a customer's job), the claim's put, the 4 D1 queries, the done
//     record's put, the held copy's delete, the usage data point, and its
//     message's send when it is sent on (passOn, settle, a deferral): 12.
//
// Budget alerts are the invocation's, not a job's: AlertRoom fetches and D1
// queries are kept for them when there is a spend store.
var JobCost = Cost{
	Fetches:      ModelAttempts,
	D1:           D1PerBudgetCheck + D1PerRecord + D1PerAlertClaim,
	ServiceCalls: 12,
}

// DeliveryMaxJobs is the most jobs one realtime delivery runs: as many as
// fit every limit at their worst (JobCost). With a spend store (the SPEND
// binding: stack.Config.HasSpendStore) min(floor((50 - 9) / 2), floor((50 -
// 9) / 4), floor(1000 / 12)) = 10, one full pack; without one min(floor(50 /
// 2), floor(1000 / 12)) = 25. The messages of a delivery past them are sent
// on (pack.ts passOn). Before, 100 (what 100 single-job messages ran) could
// make 200 model requests and 400 D1 queries.
func DeliveryMaxJobs(spendStore bool) int {
	alerts := 0
	if spendStore {
		alerts = AlertRoom
	}
	n := min((FreeFetches-alerts)/JobCost.Fetches, ServiceCalls/JobCost.ServiceCalls)
	if spendStore {
		n = min(n, (FreeD1Queries-alerts)/JobCost.D1)
	}
	return max(1, n)
}

// DeliveryPacks is how many full packs one realtime delivery runs:
// floor(DeliveryMaxJobs / PackMaxJobs), 1 with a spend store and 2
// without. A delivery of that many messages never sends one on, whatever
// they carry; it is an async pipeline's default batchSize in realtime mode.
func DeliveryPacks(spendStore bool) int {
	return max(1, DeliveryMaxJobs(spendStore)/PackMaxJobs)
}
