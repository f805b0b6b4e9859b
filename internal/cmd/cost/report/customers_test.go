package report

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cftest"
	"github.com/zerocost/zerocost/internal/cmd/cost/shared"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/cost/analytics"
	"github.com/zerocost/zerocost/internal/cost/analytics/analyticstest"
	"github.com/zerocost/zerocost/internal/devrun/devruntest"
	"github.com/zerocost/zerocost/internal/golden"
	"github.com/zerocost/zerocost/internal/outputs"
)

func TestReportByCustomerFlags(t *testing.T) {
	before := time.Now().UTC()
	o, err := cmdtest.Parse(NewCmd, "--by", "customer", "--outputs", "o.json")
	after := time.Now().UTC()
	if err != nil || o.By != ByCustomer || o.Format != "table" || o.Local ||
		(analytics.MonthOf(o.Month) != analytics.MonthOf(before) && analytics.MonthOf(o.Month) != analytics.MonthOf(after)) || o.Month.Day() != 1 {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	for _, tc := range []struct {
		args          []string
		format, month string
		local         bool
	}{
		{[]string{"--month", "2026-11", "--json"}, "json", "2026-11", false},
		{[]string{"--month", "2026-02", "--csv", "--local"}, "csv", "2026-02", true},
		{[]string{"--month", "2026-02", "--format", "csv"}, "csv", "2026-02", false},
		{[]string{"--month", "2026-02", "--format", "json", "--json"}, "json", "2026-02", false},
	} {
		o, err := cmdtest.Parse(NewCmd, append([]string{"--by", "customer"}, tc.args...)...)
		if err != nil || o.Format != tc.format || analytics.MonthOf(o.Month) != tc.month || o.Local != tc.local {
			t.Errorf("%v: %+v %v", tc.args, o, err)
		}
	}
	if o, err := cmdtest.Parse(NewCmd, "--since", "2026-11-01", "--until", "2026-11-30", "--json"); err != nil || o.Format != "json" {
		t.Errorf("--json on the bill report: %+v %v", o, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--by", "product"}, `--by "product": use --by customer`},
		{[]string{"--by", "customer", "--month", "Nov"}, `--month "Nov" is not a month (YYYY-MM)`},
		{[]string{"--by", "customer", "--month", "2026-13"}, `--month "2026-13" is not a month`},
		{[]string{"--by", "customer", "--since", "2026-11-01"}, "--since does not go with --by customer"},
		{[]string{"--by", "customer", "--plan", "paid"}, "--plan does not go with --by customer"},
		{[]string{"--by", "customer", "--format", "html"}, `--format "html": a report by customer is table, json, csv`},
		{[]string{"--by", "customer", "--json", "--csv"}, "--json and --csv: give one"},
		{[]string{"--by", "customer", "--csv", "--format", "json"}, "--csv and --format json: give one"},
		{[]string{"--by", "customer", "--local", "--outputs", "o.json"}, "--outputs does not apply"},
		{[]string{"--since", "2026-11-01", "--until", "2026-11-30", "--month", "2026-11"}, "--month goes with --by customer"},
		{[]string{"--since", "2026-11-01", "--until", "2026-11-30", "--local"}, "--local goes with --by customer"},
		{[]string{"--since", "2026-11-01", "--until", "2026-11-30", "--csv"}, "--csv goes with --by customer"},
	} {
		_, err := cmdtest.Parse(NewCmd, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%v: got %v (exit %d), want %q", tc.args, err, cmdutil.ExitCode(err), tc.want)
		}
	}
}

const custAccount = "0123456789abcdef0123456789abcdef"

// spendReader stands in for the pulumi CLI: the demo's outputs, every
// product binding the spend store db ("": none).
type spendReader struct{ db string }

func (r spendReader) Outputs(context.Context, string, string) (outputs.Stack, error) {
	out, err := outputs.ReadFile("../../../cost/analytics/testdata/demo-outputs.json")
	if err != nil || r.db == "" {
		return out, err
	}
	for name, p := range out {
		p.D1DatabaseIDs = map[string]string{contract.Spend: r.db}
		out[name] = p
	}
	return out, nil
}

// customerAPI is one Cloudflare API base serving the fake D1 (cftest, with
// spend rows of November and October) and the fake analytics
// (analyticstest, with sampled points of customers: model calls' and cache
// hits').
func customerAPI(t *testing.T) (base, db string) {
	cf := cftest.New(t, cftest.WithToken("tok"))
	cf.AddAccount(custAccount)
	spend := cf.AddD1Database(custAccount, "demo-spend")
	row := func(month, product, customer string, nanos, calls, in, out int64) map[string]any {
		return map[string]any{"month": month, "product": product, "customer": customer, "nanos": nanos, "calls": calls, "input_tokens": in, "output_tokens": out}
	}
	cf.SeedD1Rows(custAccount, spend.UUID, analytics.SpendTable,
		row("2026-11", "ai-relay", "acme", 12_345_678_901, 4100, 2_050_000, 410_000),
		row("2026-11", "ai-relay", "globex", 1_234_567, 12, 6000, 1200),
		row("2026-11", "sales-engine", "acme", 700_000_000, 90, 180_000, 45_000),
		row("2026-10", "ai-relay", "acme", 1, 1, 1, 1),
	)
	ae := analyticstest.New(t, custAccount, "tok")
	at := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	ae.CustomerPoints = []analyticstest.CustomerPoint{
		{At: at, Product: "ai-relay", Customer: "acme", Mode: "realtime", Weight: 4000}, {At: at, Product: "ai-relay", Customer: "acme", Mode: "cache_hit", Weight: 130},
		{At: at, Product: "ai-relay", Customer: "globex", Mode: "realtime", Weight: 12}, {At: at, Product: "ai-relay", Customer: "globex", Mode: "cache_hit", Weight: 3},
		{At: at, Product: "sales-engine", Customer: "acme", Mode: "realtime", Weight: 88},
	}
	aeURL, _ := url.Parse(ae.URL)
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: aeURL.Scheme, Host: aeURL.Host})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/graphql") || strings.HasSuffix(r.URL.Path, "/analytics_engine/sql") {
			proxy.ServeHTTP(w, r)
			return
		}
		cf.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/client/v4", spend.UUID
}

func runReport(t *testing.T, env map[string]string, r outputs.Reader, args ...string) (string, error) {
	t.Helper()
	ios, out, _ := cmdutil.Test()
	fac := &cmdutil.Factory{IO: ios, ProjectDir: "../../../..", HTTPClient: func() *http.Client { return http.DefaultClient }, Getenv: func(k string) string { return env[k] }}
	cmd := NewCmd(fac, func(o *Options) error { o.OutputsReader = r; return Run(o) })
	err := cmdtest.Execute(cmd, ios, args...)
	return out.String(), err
}

// The report by customer of a deployed stack: the spend store's id from
// the outputs the pulumi CLI gives, the exact figures from D1, the sampled
// requests and cache hits from Analytics Engine, in each format.
func TestReportByCustomerDeployed(t *testing.T) {
	base, db := customerAPI(t)
	env := map[string]string{shared.EnvAPIToken: "tok", shared.EnvAPIURL: base}
	for _, tc := range []struct{ flag, file string }{{"--format=table", "customers.txt"}, {"--json", "customers.json"}, {"--csv", "customers.csv"}} {
		out, err := runReport(t, env, spendReader{db}, "--stack", "demo", "--by", "customer", "--month", "2026-11", tc.flag)
		if err != nil {
			t.Fatalf("%s: %v", tc.flag, err)
		}
		golden.Check(t, tc.file, []byte(out))
	}
	_, err := runReport(t, env, spendReader{}, "--stack", "demo", "--by", "customer", "--month", "2026-11")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "name no spend database (d1_database_ids.SPEND)") {
		t.Errorf("outputs without the spend store: %v", err)
	}
	_, err = runReport(t, map[string]string{shared.EnvAPIToken: "wrong", shared.EnvAPIURL: base}, spendReader{db}, "--stack", "demo", "--by", "customer", "--month", "2026-11")
	if err == nil || !strings.Contains(err.Error(), "D1: Read") {
		t.Errorf("refused token: %v", err)
	}
}

// --local without a running zerocost dev says how to start it.
func TestReportByCustomerLocalNeedsDev(t *testing.T) {
	ios, _, _ := cmdutil.Test()
	fac := &cmdutil.Factory{IO: ios, ProjectDir: "../../../..", HTTPClient: func() *http.Client { return http.DefaultClient }, Getenv: func(string) string { return "" }}
	err := cmdtest.Execute(NewCmd(fac, nil), ios, "--stack", "demo", "--by", "customer", "--local")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "no zerocost dev running for stack demo: start it with `zerocost dev --stack demo`") {
		t.Errorf("got %v", err)
	}
}

// A stack of public products without a budget has no spend store: the report says so, on
// Cloudflare and locally, before any call.
func TestReportByCustomerNeedsASpendStore(t *testing.T) {
	dir := devruntest.Project(t, map[string]string{
		"Pulumi.yaml": "name: nobudget\nruntime: go\n",
		"Pulumi.open.yaml": "config:\n  zerocost:accountId: " + custAccount + "\n  zerocost:products:\n" +
			"    - {name: relay, pattern: edge-cache, access: public, systemPrompt: Reply briefly.}\n",
	})
	base, _ := customerAPI(t)
	env := map[string]string{shared.EnvAPIToken: "tok", shared.EnvAPIURL: base}
	for _, local := range []bool{false, true} {
		ios, _, _ := cmdutil.Test()
		fac := &cmdutil.Factory{IO: ios, ProjectDir: dir, HTTPClient: func() *http.Client { return http.DefaultClient }, Getenv: func(k string) string { return env[k] }}
		cmd := NewCmd(fac, func(o *Options) error {
			o.OutputsReader = openOutputs{}
			return Run(o)
		})
		args := []string{"--stack", "open", "--by", "customer"}
		if local {
			args = append(args, "--local")
		}
		err := cmdtest.Execute(cmd, ios, args...)
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "stack open has no spend store") {
			t.Errorf("local %v: %v", local, err)
		}
	}
}

// openOutputs are the outputs of the stack open: its relay, without a
// spend store.
type openOutputs struct{}

func (openOutputs) Outputs(context.Context, string, string) (outputs.Stack, error) {
	return outputs.Stack{"relay": {Pattern: "edge-cache", Script: "relay-open", R2Buckets: map[string]string{"OUTPUTS": "relay-open-outputs"}}}, nil
}
