package render

import (
	"testing"

	"github.com/zerocost/zerocost/internal/contract/invocation"
	"github.com/zerocost/zerocost/internal/stack/stacktest"
)

// An async pipeline's consumer batch, unset, is the full packs one delivery
// runs: the SPEND binding (a keyed product's spend store) gives one, none two.
// A batch-mode product keeps 5.
func TestRenderedDefaultBatchSize(t *testing.T) {
	tmpls, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		products string
		spend    bool
		want     int
	}{
		{`[{"name":"a","pattern":"async-pipeline"}]`, true, invocation.DeliveryMaxJobs(true) / invocation.PackMaxJobs},
		{`[{"name":"a","pattern":"async-pipeline","access":"public"}]`, false, invocation.DeliveryMaxJobs(false) / invocation.PackMaxJobs},
		{`[{"name":"a","pattern":"async-pipeline","access":"public","settings":{"modelMode":"batch"}}]`, false, 5},
	} {
		cfg := stacktest.Config(t, tc.products)
		_, _, wc := rendered(t, tmpls, cfg, cfg.Products[0])
		if got := len(wc.D1Databases) > 0; got != tc.spend {
			t.Errorf("%s: SPEND bound %v, want %v", tc.products, got, tc.spend)
		}
		for _, c := range wc.Queues.Consumers {
			if c.MaxBatchSize != tc.want {
				t.Errorf("%s: consumer of %s: max_batch_size %d, want %d", tc.products, c.Queue, c.MaxBatchSize, tc.want)
			}
		}
		if len(wc.Queues.Consumers) != 2 {
			t.Errorf("%s: %d consumers, want the queue's and the DLQ's", tc.products, len(wc.Queues.Consumers))
		}
	}
}
