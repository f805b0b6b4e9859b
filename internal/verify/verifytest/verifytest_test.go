package verifytest

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/plan/plantest"
)

// Every binding kind of the plan can be seeded into the fake API.
func TestEveryKindIsSeeded(t *testing.T) {
	plantest.CheckKinds(t, "verifytest.Deploy (seedBindings)", seedBindings)
}

// Break changes only what it is told to of a real Worker's answers.
func TestBreakOverRealWorkers(t *testing.T) {
	p := plantest.DemoPlan(t)
	relay := *p.Product("ai-relay")
	p.Products = []plan.Product{relay}
	rt := Workers(t, devrun.Options{Plan: p})
	real := URLs(rt)["ai-relay"]
	key := Keys(rt)["ai-relay"]
	get := func(base, path string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("x-api-key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	if status, m := get(real, "/health"); status != 200 || m["product"] != "ai-relay" {
		t.Fatalf("the real Worker: %d %v", status, m)
	}
	renamed := Break(t, real, &Breakage{HealthProduct: "other"})
	if status, m := get(renamed, "/health"); status != 200 || m["product"] != "other" || m["pattern"] != "edge-cache" {
		t.Errorf("renamed: %d %v", status, m)
	}
	if status, m := get(Break(t, real, &Breakage{HealthStatus: 503}), "/health"); status != 503 || m["error"] == nil {
		t.Errorf("health 503: %d %v", status, m)
	}
	if status, _ := get(Break(t, real, &Breakage{No405: true}), "/ask"); status != 404 {
		t.Errorf("no 405: %d", status)
	}
	// Through an idle Breakage, the real answers pass unchanged.
	if status, m := get(Break(t, real, &Breakage{}), "/ask"); status != 405 || m["error"] == nil {
		t.Errorf("pass-through: %d %v", status, m)
	}
}
