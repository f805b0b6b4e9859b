package verify

import (
	"testing"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan"
)

func TestDeployedTarget(t *testing.T) {
	p := demoPlan(t)
	tg := DeployedTarget(p, nil)
	if tg.Name != TargetDeployed || tg.URLs["ai-relay"] != "https://ai-relay-demo.zerocost-demo.workers.dev" || len(tg.URLs) != 4 {
		t.Errorf("from the plan: %+v", tg)
	}
	tg = DeployedTarget(p, outputs.Stack{
		"ai-relay":     {Script: "ai-relay-demo", URL: "https://relay.example.com"},
		"sales-engine": {Script: "sales-engine-demo"},
	})
	if tg.URLs["ai-relay"] != "https://relay.example.com" || tg.URLs["sales-engine"] != "https://sales-engine-demo.zerocost-demo.workers.dev" {
		t.Errorf("from the outputs: %+v", tg.URLs)
	}
	if _, ok := tg.URLs["email-worker"]; ok || tg.Unavailable["email-worker"] == "" {
		t.Errorf("a product missing from the outputs: %+v", tg)
	}
}

func TestNeedsAuthToken(t *testing.T) {
	p := demoPlan(t)
	if NeedsAuthToken(p) {
		t.Error("the demo stack sets no authToken")
	}
	p.Products[1].Bindings = append(p.Products[1].Bindings, plan.Binding{Type: plan.Secret, Name: contract.AuthToken})
	if !NeedsAuthToken(p) {
		t.Error("AUTH_TOKEN binding not noticed")
	}
}
