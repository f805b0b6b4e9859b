package analytics

import (
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan/plantest"
)

// DemoOutputs is what infra/ exports for the demo stack, ids made up.
const DemoOutputs = `{
  "sales-engine": {"pattern": "event-agent", "script": "sales-engine-demo", "url": "", "kv_namespace_ids": {"JOBS": "kv-sales"}, "r2_buckets": {"OUTPUTS": "sales-engine-demo-outputs"}},
  "email-worker": {"pattern": "async-pipeline", "script": "email-worker-demo", "url": "", "kv_namespace_ids": {"JOBS": "kv-email"}, "r2_buckets": {"OUTPUTS": "email-worker-demo-outputs"},
                   "queue_ids": {"email-worker-demo-jobs": "q-email", "email-worker-demo-jobs-dlq": "q-email-dlq"}},
  "ai-relay": {"pattern": "edge-cache", "script": "ai-relay-demo", "url": "", "kv_namespace_ids": {"CACHE": "kv-relay"}, "r2_buckets": {"OUTPUTS": "ai-relay-demo-outputs"}},
  "delivery-worker": {"pattern": "event-agent", "script": "delivery-worker-demo", "url": "", "kv_namespace_ids": {"JOBS": "kv-delivery"}, "r2_buckets": {"OUTPUTS": "delivery-worker-demo-outputs"}}
}`

func TestStackProducts(t *testing.T) {
	p := plantest.DemoPlan(t)
	out, err := outputs.Parse([]byte(DemoOutputs))
	if err != nil {
		t.Fatal(err)
	}
	prods, dataset, err := StackProducts(p, out)
	if err != nil {
		t.Fatal(err)
	}
	if dataset != DefaultModelDataset || len(prods) != 4 {
		t.Fatalf("dataset %q, %d products", dataset, len(prods))
	}
	email := prods[1]
	if email.Name != "email-worker" || email.Script != "email-worker-demo" || strings.Join(email.KVNamespaceIDs, ",") != "kv-email" ||
		strings.Join(email.Buckets, ",") != "email-worker-demo-outputs" || strings.Join(email.QueueIDs, ",") != "q-email,q-email-dlq" {
		t.Errorf("email-worker: %+v", email)
	}
	if relay := prods[2]; strings.Join(relay.KVNamespaceIDs, ",") != "kv-relay" || len(relay.QueueIDs) != 0 || relay.Pattern != "edge-cache" {
		t.Errorf("ai-relay: %+v", relay)
	}

	delete(out, "ai-relay")
	broken := out["email-worker"]
	broken.QueueIDs = map[string]string{"email-worker-demo-jobs": "q-email"}
	out["email-worker"] = broken
	_, _, err = StackProducts(p, out)
	for _, want := range []string{"product ai-relay is not in the outputs", `queue_ids["email-worker-demo-jobs-dlq"]`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
}
