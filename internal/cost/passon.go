package cost

import (
	"math"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/contract/invocation"
	"github.com/zerocost/zerocost/internal/stack"
)

// passOns is how many pack_pass_on events a month of packed jobs makes:
// messages sent on by a delivery past the jobs one invocation runs
// (workers-src/src/patterns/async-pipeline/pack.ts splitDelivery and
// passOn). A delivery runs its messages in order while their jobs fit
// D = invocation.DeliveryMaxJobs (10 with a spend store, 25 without; the
// first message always), so with k = J/⌈J/10⌉ jobs a message it runs
//
//	n = max(1, ⌊D / k⌋) messages
//
// and sends the other m − n of its m = messages_per_batch on, each to come
// back in a later delivery. With a backlog every delivery is full: the
// deliveries of the month's delivered messages (each message once, once
// more per failed attempt: `delivered`) take delivered / n deliveries, each
// sending m − n on, so a message waits (m − n)/n deliveries on average:
//
//	pack_pass_on = delivered × max(0, m − n) / n
//
// the most (a delivery that is not full sends fewer on). None when m ≤ n: the
// stack's default batchSize is n for full packs (stack.DefaultBatchSize).
func passOns(p *Profile, pp *ProductProfile, delivered, jobsPerMessage float64) float64 {
	n := math.Max(1, math.Floor(float64(invocation.DeliveryMaxJobs(hasSpendStore(p)))/jobsPerMessage))
	m := v(pp.MessagesPerBatch)
	return delivered * math.Max(0, m-n) / n
}

// hasSpendStore says whether the profile's products have the stack's spend
// database (stack.Config.HasSpendStore): a budget, the stack's or a
// product's, or a product with customer keys.
func hasSpendStore(p *Profile) bool {
	if p.MonthlyBudgetUSD != nil {
		return true
	}
	for i := range p.Products {
		if pp := &p.Products[i]; pp.MonthlyBudgetUSD != nil || pp.Access == stack.AccessKeys {
			return true
		}
	}
	return false
}

// countPassOns adds the pack_pass_on events of packed jobs and their
// deliveries: a message sent on is delivered again, in a consumer_batch of
// its own.
func countPassOns(e map[string]float64, p *Profile, pp *ProductProfile, delivered, jobsPerMessage float64) {
	if n := passOns(p, pp, delivered, jobsPerMessage); n > 0 {
		e[contract.EventPackPassOn] = n
		e[contract.EventBatch] = (delivered + n) / v(pp.MessagesPerBatch)
	}
}
