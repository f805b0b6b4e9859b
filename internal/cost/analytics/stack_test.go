package analytics

import (
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan/plantest"
)

func TestStackProducts(t *testing.T) {
	p := plantest.DemoPlan(t)
	// What infra/ exports for the demo stack, ids made up (cmd/cost's tests
	// read it too).
	out, err := outputs.ReadFile("testdata/demo-outputs.json")
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
	if email.Name != "email-worker" || email.Script != "email-worker-demo" ||
		strings.Join(email.Buckets, ",") != "email-worker-demo-outputs" || strings.Join(email.QueueIDs, ",") != "q-email,q-email-dlq" {
		t.Errorf("email-worker: %+v", email)
	}
	if relay := prods[2]; len(relay.Buckets) != 1 || len(relay.QueueIDs) != 0 || relay.Pattern != "edge-cache" {
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
