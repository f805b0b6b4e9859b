package verify

import (
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/cftest"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/stack/stacktest"
)

// An async pipeline without a batchSize is planned with the full packs one
// delivery runs (1 with a keyed product's spend store), deployed so, and
// verify finds the deployed consumer equal to the plan.
func TestConsumerDefaultBatchSize(t *testing.T) {
	p, err := plan.Build(stacktest.Config(t, `[{"name":"ap","pattern":"async-pipeline"}]`), "../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Product("ap").Consumers {
		if c.BatchSize != 1 {
			t.Fatalf("consumer of %s: planned batch %d, want 1 (a spend store: one full pack a delivery)", c.Queue, c.BatchSize)
		}
	}
	s := cftest.New(t, cftest.WithToken(apiToken))
	rep := resourceRun(t, p, s, deploy(t, s, p), apiToken)
	found := 0
	for _, c := range rep.Checks {
		if !strings.HasPrefix(c.Check, "consumer of ") {
			continue
		}
		found++
		if c.Status != Pass || !strings.Contains(c.Detail, "batch 1,") {
			t.Errorf("%s: %s %q, want a pass with batch 1", c.Check, c.Status, c.Detail)
		}
	}
	if found != 2 {
		t.Errorf("%d consumer checks, want the queue's and the DLQ's: %+v", found, rep.Checks)
	}
}
