package invocation

import "testing"

// The derivation gives what the Worker tests count (limits.test.ts): a full
// pack with a spend store, two and a half without.
func TestDeliveryMaxJobs(t *testing.T) {
	if got := DeliveryMaxJobs(true); got != 10 {
		t.Errorf("DeliveryMaxJobs(spend store) = %d, want 10", got)
	}
	if got := DeliveryMaxJobs(false); got != 25 {
		t.Errorf("DeliveryMaxJobs(no spend store) = %d, want 25", got)
	}
	if got, want := DeliveryPacks(true), 1; got != want {
		t.Errorf("DeliveryPacks(spend store) = %d, want %d", got, want)
	}
	if got, want := DeliveryPacks(false), 2; got != want {
		t.Errorf("DeliveryPacks(no spend store) = %d, want %d", got, want)
	}
}

// Every job of DeliveryPacks full packs, at its worst, fits each limit.
func TestFullPacksFitAnInvocation(t *testing.T) {
	for _, spend := range []bool{true, false} {
		jobs := DeliveryPacks(spend) * PackMaxJobs
		if jobs > DeliveryMaxJobs(spend) {
			t.Errorf("spend store %v: %d packs are %d jobs, more than the %d a delivery runs", spend, DeliveryPacks(spend), jobs, DeliveryMaxJobs(spend))
		}
		alerts := 0
		if spend {
			alerts = AlertRoom
			if d1 := jobs*JobCost.D1 + alerts; d1 > FreeD1Queries {
				t.Errorf("spend store: %d D1 queries, more than %d", d1, FreeD1Queries)
			}
		}
		if f := jobs*JobCost.Fetches + alerts; f > FreeFetches {
			t.Errorf("spend store %v: %d fetches, more than %d", spend, f, FreeFetches)
		}
		if s := jobs * JobCost.ServiceCalls; s > ServiceCalls {
			t.Errorf("spend store %v: %d service calls, more than %d", spend, s, ServiceCalls)
		}
	}
	if PackMaxJobs > DeliveryMaxJobs(true) {
		t.Errorf("a pack of %d is more than a delivery with a spend store runs (%d)", PackMaxJobs, DeliveryMaxJobs(true))
	}
}
