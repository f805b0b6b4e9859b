package report

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/devrun/devruntest"
	"github.com/zerocost/zerocost/internal/golden"
	"github.com/zerocost/zerocost/internal/names"
	"github.com/zerocost/zerocost/internal/nodetool"
	"github.com/zerocost/zerocost/internal/render"
)

// spendSchema is the spend store's table, as the Workers create it.
const spendSchema = `CREATE TABLE IF NOT EXISTS customer_spend (month TEXT NOT NULL, product TEXT NOT NULL, customer TEXT NOT NULL, nanos INTEGER NOT NULL DEFAULT 0, calls INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (month, product, customer)) WITHOUT ROWID`

// localProject is a stack with a budget (so a spend store) and two keyed
// products, in a folder of its own (dev's state file goes under it).
func localProject(t *testing.T) string {
	return devruntest.Project(t, map[string]string{
		"Pulumi.yaml": "name: report-local\nruntime: go\n",
		"Pulumi.local.yaml": `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  # A budget gives the stack its spend store; both products take keys.
  zerocost:monthlyBudgetUsd: 40
  zerocost:products:
    - {name: relay, pattern: edge-cache, systemPrompt: Reply briefly.}
    - {name: agent, pattern: event-agent, systemPrompt: Reply briefly.}
`,
	})
}

// The report by customer runs against a real zerocost dev: dev serves D1's
// query endpoint over Miniflare's spend store, the rows are seeded through
// it by SQL (the Workers do not write customer_spend yet), and the report
// reads them back with the client it uses on Cloudflare.
func TestReportByCustomerLocal(t *testing.T) {
	tools, _ := filepath.Abs("../../../..")
	if _, err := nodetool.Find(tools); err != nil {
		t.Fatalf("the local report test needs Node >= 22.12 and workers-src/node_modules (make deps): %v", err)
	}
	dir := localProject(t)
	rt, err := devrun.Start(t.Context(), devrun.Options{ProjectDir: dir, Stack: "local", ToolsDir: tools, Log: devruntest.NewLog(t, 20000)})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = rt.Stop() })
	st, err := devrun.ReadState(dir, "local")
	if err != nil || st.KVAPIURL == "" {
		t.Fatalf("dev's state: %+v %v", st, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d1 := cfapi.New(cfapi.Config{Token: devToken, BaseURL: st.KVAPIURL, MaxRetries: 0})
	db := render.LocalDatabaseID(names.SpendDatabase("local"))
	seed := func(sql string, params ...string) {
		t.Helper()
		if _, err := d1.D1Query(ctx, st.KVAccountID, db, sql, params...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	seed(spendSchema)
	insert := "INSERT INTO customer_spend (month, product, customer, nanos, calls, input_tokens, output_tokens) VALUES (?, ?, ?, ?, ?, ?, ?)"
	seed(insert, "2026-11", "relay", "acme", "1234567890", "41", "20500", "4100")
	seed(insert, "2026-11", "relay", "globex", "3000", "1", "100", "20")
	seed(insert, "2026-11", "agent", "acme", "500000000", "7", "3500", "700")
	seed(insert, "2026-10", "relay", "acme", "1", "1", "1", "1")

	var apiErr *cfapi.APIError
	if _, err := d1.D1Query(ctx, st.KVAccountID, db, "SELECT * FROM nowhere"); !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || !apiErr.HasCode(7500) {
		t.Errorf("a bad statement: %v, want D1's 400 with code 7500", err)
	}
	if _, err := d1.D1Query(ctx, st.KVAccountID, "00000000-0000-4000-8000-000000000000", "SELECT 1"); !cfapi.IsNotFound(err) {
		t.Errorf("an unknown database: %v, want 404", err)
	}

	run := func(args ...string) string {
		t.Helper()
		ios, out, _ := cmdutil.Test()
		fac := &cmdutil.Factory{IO: ios, ProjectDir: dir, HTTPClient: func() *http.Client { return http.DefaultClient }, Getenv: func(string) string { return "" }}
		if err := cmdtest.Execute(NewCmd(fac, nil), ios, append([]string{"--stack", "local", "--by", "customer", "--local", "--month", "2026-11"}, args...)...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	golden.Check(t, "customers-local.txt", []byte(run()))
	var rep struct {
		Source string `json:"source"`
		Rows   []struct {
			Product, Customer string
			Requests          *float64
			ModelCalls        int64       `json:"model_calls"`
			Cost              json.Number `json:"model_cost_usd"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(run("--json")), &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rep.Rows {
		if r.Requests != nil {
			t.Errorf("%s/%s: requests %v: dev has no Analytics Engine", r.Product, r.Customer, *r.Requests)
		}
		got = append(got, r.Product+"/"+r.Customer+" "+string(r.Cost))
	}
	if want := "agent/acme 0.50 relay/acme 1.23456789 relay/globex 0.000003"; strings.Join(got, " ") != want || rep.Source != "zerocost dev (stack local)" {
		t.Errorf("rows %q from %q, want %q", got, rep.Source, want)
	}
}
