package stack

import (
	"testing"

	"github.com/zerocost/zerocost/internal/contract/invocation"
)

// An unset batchSize is the full packs one delivery runs in realtime mode
// (1 with a spend store: a keyed product, or a budget; 2 without), 5 in
// batch mode; a set one is kept.
func TestDefaultBatchSize(t *testing.T) {
	base := "config:\n  zerocost:accountId: 0123456789abcdef0123456789abcdef\n"
	cases := []struct {
		name, yaml string
		want       []int
	}{
		{"keyed: a spend store", base + "  zerocost:products: [{name: a, pattern: async-pipeline}]\n", []int{1}},
		{"public, no budget", base + "  zerocost:products: [{name: a, pattern: async-pipeline, access: public}]\n", []int{2}},
		{"public, a stack budget", base + "  zerocost:monthlyBudgetUsd: 5\n  zerocost:products: [{name: a, pattern: async-pipeline, access: public}]\n", []int{1}},
		// Another product's keys give every product the spend store.
		{"public beside a keyed one", base + "  zerocost:products: [{name: a, pattern: async-pipeline, access: public}, {name: b, pattern: edge-cache}]\n", []int{1, 0}},
		{"batch mode", base + "  zerocost:products: [{name: a, pattern: async-pipeline, access: public, settings: {modelMode: batch}}]\n", []int{DefaultBatchModeBatchSize}},
		{"set", base + "  zerocost:products: [{name: a, pattern: async-pipeline, access: public, settings: {batchSize: 40}}]\n", []int{40}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := load(t, c.yaml)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range c.want {
				if got := cfg.Products[i].Settings.BatchSize; got != want {
					t.Errorf("product %d: batchSize %d, want %d", i, got, want)
				}
			}
		})
	}
	for _, spend := range []bool{true, false} {
		if got, want := DefaultBatchSize(ModelModeRealtime, spend), invocation.DeliveryMaxJobs(spend)/invocation.PackMaxJobs; got != want {
			t.Errorf("spend store %v: default %d, want floor(%d / %d) = %d", spend, got, invocation.DeliveryMaxJobs(spend), invocation.PackMaxJobs, want)
		}
	}
}

// The alert room the invocation package keeps is the default thresholds'.
func TestAlertRoomFollowsTheDefaultThresholds(t *testing.T) {
	if invocation.AlertThresholds != len(DefaultBudgetAlertThresholds) {
		t.Errorf("invocation.AlertThresholds %d, stack has %d default thresholds", invocation.AlertThresholds, len(DefaultBudgetAlertThresholds))
	}
}
