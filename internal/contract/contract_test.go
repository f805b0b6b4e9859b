package contract

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/stack"
)

// The checked-in workers-src/src/contract.gen.ts is what `go generate
// ./internal/contract` writes now.
func TestTypeScriptIsFresh(t *testing.T) {
	path := filepath.Join("..", "..", filepath.FromSlash(TSPath))
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := TypeScript(); !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run `go generate ./internal/contract` and commit it\n--- want\n%s", TSPath, want)
	}
}

func TestNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	var all []string
	for _, b := range Bindings {
		all = append(all, b.Name)
	}
	for _, v := range Vars {
		all = append(all, v.Name)
	}
	all = append(all, Secrets...)
	for _, n := range all {
		if seen[n] {
			t.Errorf("%s is declared twice", n)
		}
		seen[n] = true
	}
	for _, p := range stack.Patterns {
		if len(VarsOf(p)) == 0 || !slices.Contains(BindingsOf(p), Outputs) {
			t.Errorf("pattern %s: vars %v, bindings %v", p, VarsOf(p), BindingsOf(p))
		}
	}
}

func TestDataPointColumns(t *testing.T) {
	p := ModelUsagePoint
	for field, col := range map[string]string{FieldProduct: "blob1", FieldModel: "blob2", FieldPattern: "blob3",
		FieldInputTokens: "double1", FieldCacheCreateTokens: "double4"} {
		if got := p.Column(field); got != col {
			t.Errorf("%s: column %s, want %s", field, got, col)
		}
	}
	if got := p.IndexColumn(FieldProduct); got != "index1" {
		t.Errorf("index column %s", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("an unknown field did not panic")
		}
	}()
	p.Column("nope")
}

func TestEventsUseKnownOps(t *testing.T) {
	if bad := checkEvents(); len(bad) > 0 {
		t.Fatalf("the event table names ops Ops lacks:\n%s", strings.Join(bad, "\n"))
	}
	for _, p := range stack.Patterns {
		if len(Events[p]) == 0 {
			t.Errorf("pattern %s has no events", p)
		}
		for _, e := range Events[p] {
			// A Workflow instance's calls sit behind its POST's limiter (post_workflow).
			if e.Ops[OpWorkflowStep] > 0 || e.Name == EventStepRetry {
				continue
			}
			if e.Ops[OpRateLimit] < e.Ops[OpModelCall] {
				t.Errorf("%s/%s: %d model calls behind %d rate-limit checks: every model call sits behind the limiter", p, e.Name, e.Ops[OpModelCall], e.Ops[OpRateLimit])
			}
		}
	}
}

// A var carrying a setting has the setting's patterns and default, and no
// setting is carried by two vars.
func TestVarsOfSettings(t *testing.T) {
	carried := map[string]string{}
	for _, v := range Vars {
		if v.Setting == "" {
			continue
		}
		if other, dup := carried[v.Setting]; dup {
			t.Errorf("%s and %s both carry settings.%s", other, v.Name, v.Setting)
		}
		carried[v.Setting] = v.Name
		st, ok := stack.SettingNamed(v.Setting)
		if !ok || !slices.Equal(v.Patterns, st.Patterns) || v.Default != st.VarDefault() {
			t.Errorf("%s: patterns %v default %v, setting %s: %v %v", v.Name, v.Patterns, v.Default, v.Setting, st.Patterns, st.VarDefault())
		}
	}
	if carried["maxRetries"] != VarMaxRetries || carried["budgetAlertThresholds"] != VarBudgetAlertThresholds {
		t.Errorf("carried %v", carried)
	}
}
