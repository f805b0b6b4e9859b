package devrun

import (
	"github.com/zerocost/zerocost/internal/stack/stacktest"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// spendProject is a stack with a spend guard: a stack cap, an edge cache
// with a budget of its own and an event agent without one; both bind the
// stack's one spend database.
func spendProject(t *testing.T) string {
	t.Helper()
	return stacktest.Project(t, "spend", `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:monthlyBudgetUsd: 100
  zerocost:products:
    - name: relay
      pattern: edge-cache
      systemPrompt: Answer in one word.
      settings:
        monthlyBudgetUsd: 50
    - name: agent
      pattern: event-agent
      systemPrompt: Answer in one word.
`, nil)
}

const spendToken = "spend-test-token"

// budget reads GET /admin/budget.
func budget(t *testing.T, base string) map[string]any {
	t.Helper()
	code, _, m := call(t, http.MethodGet, base+"/admin/budget", "", "Authorization", "Bearer "+spendToken)
	if code != http.StatusOK {
		t.Fatalf("GET /admin/budget: %d %v", code, m)
	}
	return m
}

// The month's spend lives in the stack's D1 database under state/<stack>/:
// one model call's cost, written by one Worker, is seen by the other (one
// database), survives a restart without --reset and is gone after --reset.
func TestSpendSurvivesRestart(t *testing.T) {
	dir := spendProject(t)
	toolsDir, _ := filepath.Abs(projectDir)
	// The admin routes need AUTH_TOKEN (ZEROCOST_AUTH_TOKEN in dev).
	opts := Options{ProjectDir: dir, Stack: "spend", ToolsDir: toolsDir, DataDir: t.TempDir(), Log: newLog(t), AuthToken: spendToken}

	rt := start(t, opts)
	relay, agent := rt.Product("relay").URL, rt.Product("agent").URL
	if code, _, m := call(t, http.MethodPost, relay+"/ask", `{"input":"what is a Worker?"}`); code != http.StatusOK {
		t.Fatalf("POST /ask: %d %v", code, m)
	}
	// The cost is recorded after the answer (waitUntil): poll, bounded.
	var spent float64
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 400 && time.Now().Before(deadline); i++ {
		if spent, _ = budget(t, relay)["spent_usd"].(float64); spent > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if spent <= 0 {
		t.Fatalf("no spend recorded after a model call: %v", budget(t, relay))
	}
	m := budget(t, agent)
	if m["stack_spent_usd"] != spent || m["spent_usd"] != 0.0 || m["budget_usd"] != nil || m["stack_budget_usd"] != 100.0 {
		t.Errorf("agent's view of the shared database: %v, want stack spend %v", m, spent)
	}
	if m := budget(t, relay); m["budget_usd"] != 50.0 {
		t.Errorf("relay's budget: %v", m)
	}
	if err := rt.Stop(); err != nil {
		t.Fatal(err)
	}

	rt2 := start(t, opts)
	if m := budget(t, rt2.Product("relay").URL); m["spent_usd"] != spent || m["stack_spent_usd"] != spent {
		t.Errorf("after a restart: %v, want %v spent", m, spent)
	}
	if err := rt2.Stop(); err != nil {
		t.Fatal(err)
	}

	o := opts
	o.Reset = true
	rt3 := start(t, o)
	if m := budget(t, rt3.Product("relay").URL); m["spent_usd"] != 0.0 || m["stack_spent_usd"] != 0.0 {
		t.Errorf("after --reset: %v, want nothing spent", m)
	}
}
