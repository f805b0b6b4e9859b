package cost

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/cmd/cost/shared"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
)

const projectDir = "../../.."

func run(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	io, out, _ := cmdutil.Test()
	f := &cmdutil.Factory{IO: io, ProjectDir: projectDir, HTTPClient: func() *http.Client { return http.DefaultClient },
		Getenv: func(k string) string { return env[k] }, SelectedStack: cmdtest.Selected("demo")}
	err := cmdtest.Execute(NewCmd(f), io, args...)
	return out.String(), err
}

func TestForecastDemo(t *testing.T) {
	// The demo stack names its profile (zerocost:usageProfile).
	out, err := run(t, nil, "forecast", "--stack", "demo", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Plan     string  `json:"plan"`
		TotalUSD float64 `json:"total_usd"`
		InfraUSD float64 `json:"infra_usd"`
		Products []struct {
			Name string `json:"name"`
		} `json:"products"`
		OtherPlan struct {
			TotalUSD float64 `json:"total_usd"`
		} `json:"other_plan"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Plan != "free" || len(r.Products) != 4 || r.InfraUSD != 0 || fmt.Sprintf("%.2f", r.TotalUSD) != "24.12" || fmt.Sprintf("%.2f", r.OtherPlan.TotalUSD) != "29.12" {
		t.Errorf("forecast %+v", r)
	}
	out, err = run(t, nil, "forecast", "--stack", "demo", "--usage", filepath.Join(projectDir, "examples/usage/demo.toml"), "--plan", "paid")
	if err != nil || !strings.Contains(out, "$29.12 on Workers Paid") {
		t.Errorf("paid table: %v\n%s", err, out)
	}
}

func TestForecastErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.toml", "[[product]]\nname = \"x\"\npattern = \"event-agent\"\nrequests = 1\ninput_tokens = 1\noutput_tokens = 1\ncache_hit_rate = 0.5\n")
	_, err := run(t, nil, "forecast", "--usage", bad)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "product[0] (x).cache_hit_rate: applies to edge-cache only") {
		t.Errorf("malformed profile: %v", err)
	}
	model := write("model.toml", "[[product]]\nname = \"x\"\npattern = \"event-agent\"\nrequests = 1\ninput_tokens = 1\noutput_tokens = 1\nmodel = \"gpt-9\"\n")
	_, err = run(t, nil, "forecast", "--usage", model)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), `unknown model "gpt-9"`) {
		t.Errorf("unknown model: %v", err)
	}
	prices := write("prices.toml", "name = \"x\"\n")
	_, err = run(t, nil, "forecast", "--usage", model, "--prices", prices)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "no [[meter]] prices workers requests") {
		t.Errorf("bad prices: %v", err)
	}
}

// demoOutputs is what infra/ exports for the demo stack, ids made up.
const demoOutputs = "../../cost/analytics/testdata/demo-outputs.json"

var dataset = regexp.MustCompile(`\{accountTag: \$accountTag\}\) \{\s+(\w+)\(`)

// cloudflare answers the report's queries for the demo stack.
func cloudflare(t *testing.T, status int) *httptest.Server {
	rows := map[string]string{
		"workersInvocationsAdaptive": `[{"sum":{"requests":1000},"quantiles":{"cpuTimeP50":1000,"cpuTimeP99":3000},"dimensions":{"date":"2026-11-02","scriptName":"ai-relay-demo"}},
		  {"sum":{"requests":80},"quantiles":{"cpuTimeP50":1000,"cpuTimeP99":3000},"dimensions":{"date":"2026-11-02","scriptName":"email-worker-demo"}}]`,
		"kvOperationsAdaptiveGroups": `[{"sum":{"requests":1000},"dimensions":{"date":"2026-11-02","namespaceId":"kv-relay","actionType":"read"}},
		  {"sum":{"requests":400},"dimensions":{"date":"2026-11-02","namespaceId":"kv-relay","actionType":"write"}}]`,
		"queueMessageOperationsAdaptiveGroups": `[{"sum":{"billableOperations":240,"bytes":1},"dimensions":{"date":"2026-11-02","queueId":"q-email","actionType":"WriteMessage","outcome":""}}]`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("Authorization %q", r.Header.Get("Authorization"))
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			fmt.Fprint(w, `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if strings.HasSuffix(r.URL.Path, "/accounts/0123456789abcdef0123456789abcdef/analytics_engine/sql") {
			fmt.Fprint(w, `{"meta":[],"data":[{"product":"ai-relay","model":"claude-haiku-4-5","calls":400,"input_tokens":160000,"output_tokens":40000,"cache_read_tokens":0,"cache_write_tokens":0},
			  {"product":"email-worker","model":"claude-haiku-4-5","calls":80,"input_tokens":48000,"output_tokens":32000,"cache_read_tokens":0,"cache_write_tokens":0}],"rows":2}`)
			return
		}
		var q struct{ Query string }
		_ = json.Unmarshal(body, &q)
		m := dataset.FindStringSubmatch(q.Query)
		if r.URL.Path != "/client/v4/graphql" || m == nil {
			t.Errorf("unexpected %s %s", r.URL.Path, q.Query)
			http.NotFound(w, r)
			return
		}
		data, ok := rows[m[1]]
		if !ok {
			data = "[]"
		}
		fmt.Fprintf(w, `{"data":{"viewer":{"accounts":[{%q:%s}]}},"errors":null}`, m[1], data)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestReportDemo(t *testing.T) {
	srv := cloudflare(t, http.StatusOK)
	outs := demoOutputs
	env := map[string]string{shared.EnvAPIToken: "tok", shared.EnvAPIURL: srv.URL + "/client/v4"}
	out, err := run(t, env, "report", "--since", "2026-11-01", "--until", "2026-11-30", "--outputs", outs, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Kind, Source, Since, Until string
		AIUSD                      float64 `json:"ai_usd"`
		Products                   []struct {
			Name         string   `json:"name"`
			CacheHitRate *float64 `json:"cache_hit_rate"`
			ModelCalls   float64  `json:"model_calls"`
		} `json:"products"`
		Notes   []string `json:"notes"`
		Budgets []struct {
			Product   string  `json:"product"`
			BudgetUSD float64 `json:"budget_usd"`
			SpendUSD  float64 `json:"spend_usd"`
		} `json:"budgets"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	// The demo stack's budgets (Pulumi.demo.yaml): sales-engine's $25.50
	// (it made no calls here) and the stack's $60 against all the spend.
	if len(r.Budgets) != 2 || r.Budgets[0].Product != "sales-engine" || r.Budgets[0].BudgetUSD != 25.5 || r.Budgets[0].SpendUSD != 0 ||
		r.Budgets[1].Product != "" || r.Budgets[1].BudgetUSD != 60 || fmt.Sprintf("%.6f", r.Budgets[1].SpendUSD) != fmt.Sprintf("%.6f", r.AIUSD) {
		t.Errorf("budgets %+v", r.Budgets)
	}
	// 400 relay calls and 80 pipeline calls at Haiku 4.5 prices.
	ai := (160000+48000)*1e-6 + (40000+32000)*5e-6
	if r.Kind != "report" || r.Source != "stack demo" || r.Since != "2026-11-01" || r.Until != "2026-11-30" || fmt.Sprintf("%.6f", r.AIUSD) != fmt.Sprintf("%.6f", ai) || len(r.Notes) == 0 {
		t.Errorf("report %+v", r)
	}
	if len(r.Products) != 4 || r.Products[2].Name != "ai-relay" || r.Products[2].CacheHitRate == nil || *r.Products[2].CacheHitRate != 0.6 {
		t.Errorf("products %+v", r.Products)
	}
	// --api-url wins over the environment.
	_, err = run(t, map[string]string{shared.EnvAPIToken: "tok", shared.EnvAPIURL: "http://127.0.0.1:1"}, "report", "--since", "2026-11-01", "--until", "2026-11-30", "--outputs", outs, "--api-url", srv.URL+"/client/v4")
	if err != nil {
		t.Errorf("--api-url: %v", err)
	}
}

func TestReportErrors(t *testing.T) {
	outs := demoOutputs
	args := []string{"report", "--since", "2026-11-01", "--until", "2026-11-30", "--outputs", outs}
	_, err := run(t, map[string]string{}, args...)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "CLOUDFLARE_API_TOKEN is not set") {
		t.Errorf("no token: %v", err)
	}
	srv := cloudflare(t, http.StatusForbidden)
	_, err = run(t, map[string]string{shared.EnvAPIToken: "tok", shared.EnvAPIURL: srv.URL + "/client/v4"}, args...)
	if cmdutil.ExitCode(err) != cmdutil.ExitFailed || !strings.Contains(err.Error(), "workersInvocationsAdaptive: Cloudflare answered HTTP 403: Authentication error (code 10000)") {
		t.Errorf("bad token: %v", err)
	}
	_, err = run(t, map[string]string{shared.EnvAPIToken: "tok", shared.EnvAPIURL: "ftp://x"}, args...)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), shared.EnvAPIURL+` "ftp://x" is not an http(s) URL`) {
		t.Errorf("bad API URL: %v", err)
	}
	_, err = run(t, map[string]string{shared.EnvAPIToken: "tok", shared.EnvAPIURL: srv.URL}, args...) // a bare origin gets /client/v4/
	if cmdutil.ExitCode(err) != cmdutil.ExitFailed || !strings.Contains(err.Error(), "Cloudflare answered HTTP 403") {
		t.Errorf("bare origin: %v", err)
	}
	_, err = run(t, map[string]string{shared.EnvAPIToken: "tok"}, "report", "--since", "2026-11-01", "--until", "2026-11-30", "--outputs", filepath.Join(t.TempDir(), "none.json"))
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "none.json") {
		t.Errorf("missing outputs: %v", err)
	}
	_, err = run(t, map[string]string{shared.EnvAPIToken: "tok"}, "report", "--stack", "nope", "--since", "2026-11-01", "--until", "2026-11-30", "--outputs", outs)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "Pulumi.nope.yaml") {
		t.Errorf("unknown stack: %v", err)
	}
}

// With --stack, the stack says what each product is and the profile gives
// the traffic: a restated key must agree; without it, a profile describes
// its products fully.
func TestForecastReadsTheStack(t *testing.T) {
	profile := filepath.Join(projectDir, "examples", "usage", "demo.toml")
	data, err := os.ReadFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	write := func(doc string) string {
		p := filepath.Join(t.TempDir(), "u.toml")
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	relay := `name = "ai-relay"`
	for name, c := range map[string]struct{ doc, want string }{
		"unknown product": {strings.Replace(string(data), relay, `name = "ai-relai"`, 1), `product[2] (ai-relai).name: "ai-relai" is not a product of stack demo`},
		"other model":     {strings.Replace(string(data), relay, relay+"\nmodel = \"claude-sonnet-4-5\"", 1), `product[2] (ai-relay).model: "claude-sonnet-4-5", but stack demo has "claude-haiku-4-5" (zerocost:products[2].model)`},
		"other budget":    {"monthly_budget_usd = 10\n" + string(data), `monthly_budget_usd: 10, but stack demo's zerocost:monthlyBudgetUsd is 60`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := run(t, nil, "forecast", "--usage", write(c.doc), "--stack", "demo")
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want exit 2 with %q", err, c.want)
			}
		})
	}
	// A restated key that agrees passes.
	agree := strings.Replace(string(data), relay, relay+"\npattern = \"edge-cache\"\nmodel = \"claude-haiku-4-5\"", 1)
	if _, err := run(t, nil, "forecast", "--usage", write(agree), "--stack", "demo"); err != nil {
		t.Errorf("agreeing keys: %v", err)
	}
	// Without --stack the traffic-only profile lacks the patterns...
	if _, err := run(t, nil, "forecast", "--usage", profile); err == nil || !strings.Contains(err.Error(), "product[2] (ai-relay).pattern: missing") {
		t.Errorf("traffic only, no stack: %v", err)
	}
	// ...and a fully described one is priced on its own.
	full := "[[product]]\nname = \"other\"\npattern = \"edge-cache\"\nrequests = 1000\ninput_tokens = 10\noutput_tokens = 10\ncache_hit_rate = 0.5\n"
	if _, err := run(t, nil, "forecast", "--usage", write(full)); err != nil {
		t.Errorf("a full profile without --stack: %v", err)
	}
}
