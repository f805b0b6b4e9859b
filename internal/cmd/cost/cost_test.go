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
	"time"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
)

const projectDir = "../../.."

func run(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	io, out, _ := cmdutil.Test()
	f := &cmdutil.Factory{IO: io, ProjectDir: projectDir, HTTPClient: func() *http.Client { return http.DefaultClient },
		Getenv: func(k string) string { return env[k] }, SelectedStack: cmdtest.Selected("demo")}
	cmd := NewCmd(f, nil)
	cmd.SetArgs(args)
	cmd.SetOut(io.Out)
	cmd.SetErr(io.ErrOut)
	err := cmd.Execute()
	return out.String(), err
}

func parse(t *testing.T, args ...string) (*Options, error) {
	t.Helper()
	return cmdtest.Parse(NewCmd, args...)
}

func TestForecastFlags(t *testing.T) {
	o, err := parse(t, "forecast", "--usage", "u.toml")
	if err != nil {
		t.Fatal(err)
	}
	if o.Command != Forecast || o.Usage != "u.toml" || o.Format != "table" || o.Plan != "" || o.Prices != "" {
		t.Errorf("defaults: %+v", o)
	}
	o, err = parse(t, "forecast", "--usage", "u.toml", "--plan", "paid", "--format", "html", "--prices", "p.toml")
	if err != nil || o.Plan != "paid" || o.Format != "html" || o.Prices != "p.toml" {
		t.Errorf("flags: %+v %v", o, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"forecast"}, "--usage is required"},
		{[]string{"forecast", "--usage", "u.toml", "--format", "yaml"}, `--format "yaml"`},
		{[]string{"forecast", "--usage", "u.toml", "--plan", "pro"}, `--plan "pro"`},
		{[]string{"forecast", "--usage", "u.toml", "extra"}, "unknown command"},
	} {
		_, err := parse(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
		if err != nil && strings.HasPrefix(tc.want, "--") && cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%v: exit code %d", tc.args, cmdutil.ExitCode(err))
		}
	}
}

func TestReportFlags(t *testing.T) {
	o, err := parse(t, "report", "--since", "2026-11-01", "--until", "2026-11-30", "--outputs", "o.json")
	if err != nil {
		t.Fatal(err)
	}
	if o.Command != Report || o.Stack != "demo" || o.Plan != "free" || o.Outputs != "o.json" || o.APIURL != "" ||
		!o.Since.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) || !o.Until.Equal(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("options %+v", o)
	}
	o, err = parse(t, "report", "--stack", "prod", "--since", "2026-11-01", "--until", "2026-11-01", "--outputs", "o.json", "--api-url", "http://127.0.0.1:1", "--plan", "paid", "--format", "json")
	if err != nil || o.Stack != "prod" || o.APIURL != "http://127.0.0.1:1" || o.Plan != "paid" || o.Format != "json" {
		t.Errorf("flags: %+v %v", o, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--until", "2026-11-30", "--outputs", "o"}, "--since is required"},
		{[]string{"report", "--since", "2026-11-01", "--outputs", "o"}, "--until is required"},
		{[]string{"report", "--since", "1 Nov", "--until", "2026-11-30", "--outputs", "o"}, `--since "1 Nov" is not a date`},
		{[]string{"report", "--since", "2026-11-30", "--until", "2026-11-01", "--outputs", "o"}, "--until 2026-11-01 is before --since 2026-11-30"},
		{[]string{"report", "--since", "2026-10-01", "--until", "2026-11-30", "--outputs", "o"}, "is 61 days: a report covers at most 31"},
		{[]string{"report", "--since", "2026-11-01", "--until", "2026-11-30"}, "--outputs is required"},
		{[]string{"report", "--since", "2026-11-01", "--until", "2026-11-30", "--outputs", "o", "--format", "csv"}, `--format "csv"`},
	} {
		_, err := parse(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%v: got %v (exit %d), want %q", tc.args, err, cmdutil.ExitCode(err), tc.want)
		}
	}
}

func TestForecastDemo(t *testing.T) {
	out, err := run(t, nil, "forecast", "--usage", filepath.Join(projectDir, "examples/usage/demo.toml"), "--format", "json")
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
	out, err = run(t, nil, "forecast", "--usage", filepath.Join(projectDir, "examples/usage/demo.toml"), "--plan", "paid")
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
	env := map[string]string{EnvAPIToken: "tok", EnvAPIURL: srv.URL + "/client/v4"}
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
	_, err = run(t, map[string]string{EnvAPIToken: "tok", EnvAPIURL: "http://127.0.0.1:1"}, "report", "--since", "2026-11-01", "--until", "2026-11-30", "--outputs", outs, "--api-url", srv.URL+"/client/v4")
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
	_, err = run(t, map[string]string{EnvAPIToken: "tok", EnvAPIURL: srv.URL + "/client/v4"}, args...)
	if cmdutil.ExitCode(err) != cmdutil.ExitFailed || !strings.Contains(err.Error(), "workersInvocationsAdaptive: Cloudflare answered HTTP 403: Authentication error (code 10000)") {
		t.Errorf("bad token: %v", err)
	}
	_, err = run(t, map[string]string{EnvAPIToken: "tok", EnvAPIURL: "ftp://x"}, args...)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), EnvAPIURL+` "ftp://x" is not an http(s) URL`) {
		t.Errorf("bad API URL: %v", err)
	}
	_, err = run(t, map[string]string{EnvAPIToken: "tok", EnvAPIURL: srv.URL}, args...) // a bare origin gets /client/v4/
	if cmdutil.ExitCode(err) != cmdutil.ExitFailed || !strings.Contains(err.Error(), "Cloudflare answered HTTP 403") {
		t.Errorf("bare origin: %v", err)
	}
	_, err = run(t, map[string]string{EnvAPIToken: "tok"}, "report", "--since", "2026-11-01", "--until", "2026-11-30", "--outputs", filepath.Join(t.TempDir(), "none.json"))
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "none.json") {
		t.Errorf("missing outputs: %v", err)
	}
	_, err = run(t, map[string]string{EnvAPIToken: "tok"}, "report", "--stack", "nope", "--since", "2026-11-01", "--until", "2026-11-30", "--outputs", outs)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "Pulumi.nope.yaml") {
		t.Errorf("unknown stack: %v", err)
	}
}

// With --stack, the profile must price the stack's products as the plan defines them.
func TestForecastCheckedAgainstStack(t *testing.T) {
	profile := filepath.Join(projectDir, "examples", "usage", "demo.toml")
	if _, err := run(t, nil, "forecast", "--usage", profile, "--stack", "demo"); err != nil {
		t.Fatalf("the demo profile does not match the demo stack: %v", err)
	}
	data, err := os.ReadFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ from, to, want string }{
		"unknown product": {`name = "ai-relay"`, `name = "ai-relai"`, `.name: "ai-relai" is not a product of stack demo`},
		"wrong pattern":   {`pattern = "edge-cache"`, `pattern = "event-agent"`, `.pattern: "event-agent", but stack demo runs ai-relay as edge-cache`},
	} {
		t.Run(name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "u.toml")
			edited := strings.Replace(string(data), c.from, c.to, 1)
			if c.from == `pattern = "edge-cache"` {
				// the edge-cache-only fields would fail first: drop them
				var keep []string
				for _, l := range strings.Split(edited, "\n") {
					if !strings.HasPrefix(strings.TrimSpace(l), "cache_hit_rate") {
						keep = append(keep, l)
					}
				}
				edited = strings.Join(keep, "\n")
			}
			if err := os.WriteFile(bad, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := run(t, nil, "forecast", "--usage", bad, "--stack", "demo")
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want exit 2 with %q", err, c.want)
			}
		})
	}
	// Without --stack, a profile is priced on its own.
	bad := filepath.Join(t.TempDir(), "u.toml")
	_ = os.WriteFile(bad, []byte(strings.Replace(string(data), `name = "ai-relay"`, `name = "other"`, 1)), 0o644)
	if _, err := run(t, nil, "forecast", "--usage", bad); err != nil {
		t.Fatalf("a profile without --stack: %v", err)
	}
}
