package render

import (
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/BurntSushi/toml"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/stack"
	"github.com/zerocost/zerocost/internal/stack/stacktest"
	"github.com/zerocost/zerocost/internal/wrangler"
)

// Quote produces TOML strings that parse back to the original, whatever the prompt holds.
func TestQuoteRoundTrips(t *testing.T) {
	for _, s := range []string{
		"plain", `with "quotes" and \backslashes\`, "line one\nline two\r\n\ttabbed",
		"control \x01\x07\x1b\x7f chars", "unicode: ünïcødé 日本語 🚀", "",
		`""" triple`, "trailing \\",
	} {
		var v struct{ V string }
		if _, err := toml.Decode("V = "+Quote(s), &v); err != nil {
			t.Errorf("Quote(%q) = %s: %v", s, Quote(s), err)
			continue
		}
		if v.V != s {
			t.Errorf("round trip of %q gave %q", s, v.V)
		}
		if strings.Contains(Quote(s), "\n") {
			t.Errorf("Quote(%q) spans lines", s)
		}
	}
	if Quote(42) != `"42"` {
		t.Errorf("Quote(42) = %s", Quote(42))
	}
}

func TestDefaultRateLimitNamespaceID(t *testing.T) {
	a, b := DefaultRateLimitNamespaceID("a-demo"), DefaultRateLimitNamespaceID("b-demo")
	if a == b || a < 100000 || a > 999999 || DefaultRateLimitNamespaceID("a-demo") != a {
		t.Errorf("ids %d %d", a, b)
	}
}

func TestTemplatesParse(t *testing.T) {
	tm, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"event-agent", "async-pipeline", "edge-cache"} {
		if tm[p] == nil {
			t.Errorf("no template for %s", p)
		}
	}
}

// newData is NewData into a temporary folder of the test, which fails on an error.
func newData(t *testing.T, cfg *stack.Config, sp stack.Product) *Data {
	t.Helper()
	d, err := NewData(cfg, sp, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// rendered is the product's data, its wrangler.toml and that file decoded.
func rendered(t *testing.T, tmpls map[string]*template.Template, cfg *stack.Config, sp stack.Product) (*Data, []byte, *wrangler.Config) {
	t.Helper()
	d := newData(t, cfg, sp)
	out, err := Product(tmpls, d)
	if err != nil {
		t.Fatal(err)
	}
	wc, err := wrangler.Decode(sp.Name, out)
	if err != nil {
		t.Fatal(err)
	}
	return d, out, wc
}

// Each pattern's rendered config declares exactly the bindings and vars
// internal/contract gives the pattern, in the contract's order.
func TestRenderedNamesAreTheContract(t *testing.T) {
	cfg, err := stack.FromValues("demo", map[string]stack.Value{
		"accountId": {Text: "0123456789abcdef0123456789abcdef"},
		"authToken": {Text: "t", Secret: true},
		// A budget and a webhook: every binding and secret the contract has.
		"monthlyBudgetUsd":   {Text: "10"},
		"budgetAlertWebhook": {Text: "https://hooks.slack.com/services/T0/B0/x", Secret: true},
		"products":           {Text: `[{"name":"a","pattern":"event-agent"},{"name":"b","pattern":"async-pipeline"},{"name":"c","pattern":"edge-cache"}]`},
	})
	if err != nil {
		t.Fatal(err)
	}
	tmpls, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range cfg.Products {
		d, out, wc := rendered(t, tmpls, cfg, sp)
		var bindings []string
		for _, b := range wc.R2Buckets {
			bindings = append(bindings, b.Binding)
		}
		if wc.Queues != nil {
			for _, q := range wc.Queues.Producers {
				bindings = append(bindings, q.Binding)
			}
		}
		for _, rl := range wc.RateLimits {
			bindings = append(bindings, rl.Name)
		}
		for _, ae := range wc.AnalyticsEngine {
			bindings = append(bindings, ae.Binding)
			if ae.Dataset != contract.ModelUsageDataset {
				t.Errorf("%s: dataset %s", sp.Pattern, ae.Dataset)
			}
		}
		for _, db := range wc.D1Databases {
			bindings = append(bindings, db.Binding)
		}
		for _, kv := range wc.KVNamespaces {
			bindings = append(bindings, kv.Binding)
		}
		for _, wf := range wc.Workflows {
			bindings = append(bindings, wf.Binding)
		}
		if want := contract.BindingsOf(sp.Pattern); !slices.Equal(bindings, want) {
			t.Errorf("%s: bindings %v, the contract says %v", sp.Pattern, bindings, want)
		}
		var vars []string
		for _, v := range d.Vars {
			vars = append(vars, v.Name)
		}
		if want := contract.VarsOf(sp.Pattern); !slices.Equal(vars, want) || len(wc.Vars) != len(want) {
			t.Errorf("%s: vars %v (%d in the TOML), the contract says %v", sp.Pattern, vars, len(wc.Vars), want)
		}
		for _, name := range contract.VarsOf(sp.Pattern) {
			if _, ok := wc.Vars[name]; !ok {
				t.Errorf("%s: the TOML lacks var %s", sp.Pattern, name)
			}
		}
		if want := "Secrets (never written here): " + strings.Join(contract.Secrets, ", ") + "."; !strings.Contains(string(out), want) {
			t.Errorf("%s: the header does not say %q", sp.Pattern, want)
		}
	}
}

// A model the price file does not price fails the plan at its field, with
// the priced models listed; a priced one gets its prices as MODEL_PRICES.
func TestModelNeedsAPrice(t *testing.T) {
	cfg := stacktest.Config(t, `[{"name":"a","pattern":"event-agent"},{"name":"b","pattern":"edge-cache","model":"gpt-4o"}]`)
	_, err := NewData(cfg, cfg.Products[1], t.TempDir())
	if err == nil || !strings.HasPrefix(err.Error(), `zerocost:products[1].model: "gpt-4o" has no price in prices/2026-11.toml`) ||
		!strings.Contains(err.Error(), "claude-haiku-4-5") {
		t.Errorf("error %v", err)
	}
	d := newData(t, cfg, cfg.Products[0])
	for _, v := range d.Vars {
		switch v.Name {
		case contract.VarModelPrices:
			if v.Value != `{"model":"claude-haiku-4-5","prices":"2026-11","input":1,"output":5,"cache_read":0.1,"cache_write":1.25,"batch_discount":0.5}` {
				t.Errorf("MODEL_PRICES %s", v.Value)
			}
		case contract.VarMonthlyBudgetUSD, contract.VarStackBudgetUSD:
			if v.Value != "" {
				t.Errorf("%s = %q without a budget", v.Name, v.Value)
			}
		case contract.VarBudgetAlertThresholds:
			if v.Value != "50,80,100" {
				t.Errorf("%s = %q", v.Name, v.Value)
			}
		}
	}
	// No budget, but keys (the default): the spend store for the customers'
	// budgets, and no webhook (nothing of the stack's to alert on).
	if d.SpendDatabase == "" || slices.Contains(d.SecretNames, contract.BudgetAlertWebhook) {
		t.Errorf("a keyed product without a budget: spend database %q (want one), webhook %v (want none)", d.SpendDatabase, d.SecretNames)
	}
}

// A stack of public products without a budget has no spend store; one keyed
// product gives every product of the stack the store.
func TestSpendStoreWithKeys(t *testing.T) {
	for _, tc := range []struct {
		products string
		want     bool
	}{
		{`[{"name":"a","pattern":"event-agent","access":"public"},{"name":"b","pattern":"edge-cache","access":"public"}]`, false},
		{`[{"name":"a","pattern":"event-agent","access":"public"},{"name":"b","pattern":"edge-cache"}]`, true},
	} {
		cfg := stacktest.Config(t, tc.products)
		for _, p := range cfg.Products {
			d := newData(t, cfg, p)
			if got := d.SpendDatabase != ""; got != tc.want || cfg.HasSpendStore() != tc.want {
				t.Errorf("%s: product %s has the spend store: %v, want %v", tc.products, p.Name, got, tc.want)
			}
		}
	}
}
