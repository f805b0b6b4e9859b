package main

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const tLifecycle = "cloudflare:index/r2BucketLifecycle:R2BucketLifecycle"

// ruleOf reads one registered rule back: its id, prefix and maxAge.
func ruleOf(t *testing.T, v resource.PropertyValue) (id, prefix string, maxAge float64) {
	t.Helper()
	r := v.ObjectValue()
	if !r["enabled"].BoolValue() {
		t.Errorf("rule %v is not enabled", r["id"])
	}
	cond := r["deleteObjectsTransition"].ObjectValue()["condition"].ObjectValue()
	if cond["type"].StringValue() != "Age" {
		t.Errorf("rule %v: condition type %v, want Age", r["id"], cond["type"])
	}
	return r["id"].StringValue(), r["conditions"].ObjectValue()["prefix"].StringValue(), cond["maxAge"].NumberValue()
}

// TestBucketLifecycleRules: every product bucket gets one lifecycle resource
// whose rules expire its pattern's prefixes, in seconds: job records after
// the default retention (31 days), the held/ prefix after 31 days, edge-cache
// answers after their TTL in whole days.
func TestBucketLifecycleRules(t *testing.T) {
	m := demoGraph(t)
	buckets, lifecycles := m.byType(tR2), m.byType(tLifecycle)
	if len(lifecycles) != len(buckets) {
		t.Fatalf("%d lifecycle resources for %d buckets", len(lifecycles), len(buckets))
	}
	want := map[string]map[string]float64{
		"sales-engine-demo-outputs-lifecycle": {"jobs/": 7 * 86400, "held/": 31 * 86400},
		"email-worker-demo-outputs-lifecycle": {"jobs/": 7 * 86400, "held/": 31 * 86400, "batches/": 30 * 86400},
		"ai-relay-demo-outputs-lifecycle":     {"answers/": 86400},
	}
	seen := 0
	for _, l := range lifecycles {
		if l.Inputs["accountId"].StringValue() == "" {
			t.Errorf("%s has no accountId", l.Name)
		}
		w, ok := want[l.Name]
		if !ok {
			continue
		}
		seen++
		rules := l.Inputs["rules"].ArrayValue()
		if len(rules) != len(w) {
			t.Errorf("%s: %d rules, want %d", l.Name, len(rules), len(w))
		}
		for _, r := range rules {
			id, prefix, age := ruleOf(t, r)
			if w[prefix] != age {
				t.Errorf("%s rule %s: prefix %q maxAge %v, want %v", l.Name, id, prefix, age, w[prefix])
			}
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d expected lifecycle resources; names: %v", seen, len(want), lifecycles)
	}
}
