package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cftest"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/golden"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/plan/plantest"
	zverify "github.com/zerocost/zerocost/internal/verify"
	"github.com/zerocost/zerocost/internal/verify/verifytest"
)

const projectDir = "../../.."

const apiToken = "cf-read-token"

func demoPlan(t *testing.T) *plan.Plan { return plantest.DemoPlan(t) }

// The tests run verify against the real Workers on workerd, as `zerocost
// dev` runs them (verifytest.Workers), with the local stand-in model. The
// demo stack's runtime starts on first use and serves every test that needs
// it (demoWorkers); TestMain stops it. Tests that need other Workers (a
// token, a failing model, a runtime they stop) start their own. The tests
// that run Workers run in parallel: each run of verify has its own run id,
// and the command reads no process-wide state (its environment comes from
// the Factory).
var shared verifytest.Shared

func TestMain(m *testing.M) { shared.Main(m) }

// demoWorkers is the shared runtime of the demo stack. It serves every
// repetition of -count, so its rate limiters allow more than the stack's 60
// model calls a minute per product: a repetition makes 30 for email-worker,
// and the third would find its limiter spent and its batches queued for up
// to a minute. Verify reads the stack's own plan, and --local route checks
// never compare the limit (these tests do not run the rate-limit check).
func demoWorkers(t *testing.T) *devrun.Runtime {
	t.Helper()
	cfg, _ := plantest.Demo(t)
	for i := range cfg.Products {
		cfg.Products[i].Settings.RateLimitPerMinute = 100_000
	}
	p, err := plan.Build(cfg, plantest.ProjectDir())
	if err != nil {
		t.Fatal(err)
	}
	return shared.Get(t, "demo", devrun.Options{Plan: p})
}

// pollInterval is the real pause between polls. The Workers need next to
// none: with the tests and workerd on one CPU, at 10, 25 and 50 ms alike, a
// cached answer (stored in ctx.waitUntil after the MISS) was there at the
// cache check's first retry and every job was done within 3 polls. Shorter
// pauses only add load (the failing-model run polls 5 stuck jobs for 8 s),
// and made this package slower at 25 ms than at 50.
const pollInterval = 50 * time.Millisecond

type result struct {
	stdout, stderr string
	err            error
	code           int
}

// run runs the command; setup adjusts the options after flag parsing.
func run(t *testing.T, env map[string]string, setup func(*Options), args ...string) result {
	t.Helper()
	return runVia(t, env, nil, setup, args...)
}

// runVia runs the command with an HTTP client over rt (nil: the default
// transport).
func runVia(t *testing.T, env map[string]string, rt http.RoundTripper, setup func(*Options), args ...string) result {
	t.Helper()
	io, out, errOut := cmdutil.Test()
	f := &cmdutil.Factory{IO: io, ProjectDir: projectDir, Getenv: func(k string) string { return env[k] },
		HTTPClient: func() *http.Client { return &http.Client{Transport: rt, Timeout: 10 * time.Second} }, SelectedStack: cmdtest.Selected("demo")}
	return runWith(t, f, out, errOut, setup, args...)
}

func runWith(t *testing.T, f *cmdutil.Factory, out, errOut *bytes.Buffer, setup func(*Options), args ...string) result {
	t.Helper()
	return runFor(t, 60*time.Second, f, out, errOut, setup, args...)
}

// runFor runs the command with a deadline.
func runFor(t *testing.T, deadline time.Duration, f *cmdutil.Factory, out, errOut *bytes.Buffer, setup func(*Options), args ...string) result {
	t.Helper()
	cmd := NewCmd(f, func(o *Options) error {
		o.PollInterval = pollInterval
		if o.Outputs == nil {
			o.Outputs = outputs.Pulumi{LookPath: func(string) (string, error) { return "", exec.ErrNotFound }}
		}
		if setup != nil {
			setup(o)
		}
		return Run(o)
	})
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true // as the root command does
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return result{stdout: out.String(), stderr: errOut.String(), err: err, code: cmdutil.ExitCode(err)}
}

func TestFlags(t *testing.T) {
	var got *Options
	parse := func(args ...string) error {
		got = nil
		cmd := NewCmd(&cmdutil.Factory{SelectedStack: cmdtest.Selected("demo")}, func(o *Options) error { got = o; return nil })
		cmd.SetArgs(args)
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetOut(&bytes.Buffer{})
		return cmd.Execute()
	}
	if err := parse(); err != nil {
		t.Fatal(err)
	}
	if got.Stack != "demo" || got.Local || got.JSON || got.JUnit != "" || got.Timeout != 60*time.Second || got.CheckRateLimit ||
		got.SkipResources || got.OutputsFile != "" || got.APIURL != "" || got.Products != nil {
		t.Errorf("defaults %+v", got)
	}
	if err := parse("--stack", "prod", "--outputs", "o.json", "--json", "--junit", "r.xml", "--timeout", "90s", "--check-rate-limit",
		"--skip-resources", "--cloudflare-api-url", "http://127.0.0.1:1", "--product", "a,b", "--product", "c"); err != nil {
		t.Fatal(err)
	}
	if got.Stack != "prod" || got.OutputsFile != "o.json" || !got.JSON || got.JUnit != "r.xml" || got.Timeout != 90*time.Second ||
		!got.CheckRateLimit || !got.SkipResources || got.APIURL != "http://127.0.0.1:1" || strings.Join(got.Products, ",") != "a,b,c" {
		t.Errorf("parsed %+v", got)
	}
	if err := parse("--wait-revocation"); err != nil || !got.WaitRevocation {
		t.Errorf("--wait-revocation: %v %+v", err, got)
	}
	if err := parse("--local"); err != nil || !got.Local {
		t.Errorf("--local: %v %+v", err, got)
	}
	if err := parse("--outputs", "o.json", "--skip-routes"); err != nil || !got.SkipRoutes || got.SkipResources {
		t.Errorf("--skip-routes: %v %+v", err, got)
	}
	for _, args := range [][]string{{"--local", "--outputs", "o.json"}, {"--timeout", "0s"}, {"extra-arg"},
		{"--skip-routes", "--skip-resources"}, {"--local", "--skip-routes"}, {"--local", "--wait-revocation"}, {"--skip-routes", "--wait-revocation"}} {
		err := parse(args...)
		if err == nil || got != nil {
			t.Errorf("%v accepted", args)
			continue
		}
		if args[0] != "extra-arg" && cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%v: exit %d (%v)", args, cmdutil.ExitCode(err), err)
		}
	}
}

// writeState writes a dev state file naming the products' URLs.
func writeState(t *testing.T, pid int, urls map[string]string, p *plan.Plan, keys ...map[string]string) string {
	t.Helper()
	st := map[string]any{"stack": "demo", "pid": pid, "started_at": time.Now().Format(time.RFC3339),
		"model": map[string]any{"url": "http://127.0.0.1:9", "stand_in": true}}
	var products []map[string]string
	for _, pr := range p.Products {
		if u, ok := urls[pr.Name]; ok {
			prod := map[string]string{"name": pr.Name, "pattern": pr.Pattern, "url": u}
			for _, k := range keys {
				if k[pr.Name] != "" {
					prod["key"] = k[pr.Name]
				}
			}
			products = append(products, prod)
		}
	}
	st["products"] = products
	return writeJSONFile(t, "demo.json", st)
}

// writeJSONFile writes v as JSON to a file of that name in a temporary
// folder and returns its path.
func writeJSONFile(t *testing.T, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLocal(t *testing.T) {
	t.Parallel()
	p := demoPlan(t)
	rt := demoWorkers(t)
	// The state file the runtime wrote.
	r := run(t, nil, func(o *Options) { o.StateFile = rt.StatePath() }, "--local")
	if r.err != nil {
		t.Fatalf("exit %d: %v\n%s\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	// 19 checks, and per product with keys: no key, revoked key and (but
	// edge-cache) other customer.
	if !strings.Contains(r.stdout, "demo, local: 30 checks, 30 passed, 0 failed") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	for _, want := range []string{"zerocost verify: stack demo (local)", "the Workers call the stand-in model at " + rt.ModelInfo().URL + "\n", "[30/30] "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}

	// A product that is not running fails, by name.
	urls := verifytest.URLs(rt)
	delete(urls, "ai-relay")
	state := writeState(t, os.Getpid(), urls, p, verifytest.Keys(rt))
	r = run(t, nil, func(o *Options) { o.StateFile = state }, "--local", "--json")
	if r.code != cmdutil.ExitFailed || !strings.Contains(r.err.Error(), "ai-relay: health") {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	var rep zverify.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, r.stdout)
	}
	for _, c := range rep.Checks {
		if (c.Status == zverify.Fail) != (c.Product == "ai-relay") {
			t.Errorf("%s/%s: %s %s", c.Product, c.Check, c.Status, c.Detail)
		}
		if c.Product == "ai-relay" && !strings.Contains(c.Detail, "not running in the zerocost dev of stack demo") {
			t.Errorf("ai-relay detail %q", c.Detail)
		}
	}
}

func TestLocalNotRunning(t *testing.T) {
	want := "no zerocost dev running for stack demo: start it with `zerocost dev --stack demo`"
	r := run(t, nil, func(o *Options) { o.StateFile = filepath.Join(t.TempDir(), "demo.json") }, "--local")
	if r.code != cmdutil.ExitUsage || !strings.Contains(r.err.Error(), want) {
		t.Errorf("no state file: exit %d: %v", r.code, r.err)
	}
	// A state file left by a process that has exited.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	state := writeState(t, dead.Process.Pid, map[string]string{"sales-engine": "http://127.0.0.1:9"}, demoPlan(t))
	r = run(t, nil, func(o *Options) { o.StateFile = state }, "--local")
	if r.code != cmdutil.ExitUsage || !strings.Contains(r.err.Error(), want) || !strings.Contains(r.err.Error(), "has exited") {
		t.Errorf("dead pid: exit %d: %v", r.code, r.err)
	}
}

// deployed seeds a fake account (internal/cftest) for the demo plan and
// writes the outputs file: the account's resources, and the URLs of the
// real Workers (demoWorkers).
func deployed(t *testing.T) (*cftest.Server, string, map[string]string, outputs.Stack) {
	t.Helper()
	p := demoPlan(t)
	s := cftest.New(t, cftest.WithToken(apiToken))
	out := verifytest.Deploy(t, s, p)
	for name, u := range verifytest.URLs(demoWorkers(t)) {
		op := out[name]
		op.URL = u
		out[name] = op
	}
	env := map[string]string{cfapi.EnvToken: apiToken, cfapi.EnvBaseURL: s.URL} // a bare origin: /client/v4/ is added
	return s, writeOutputs(t, out), env, out
}

// writeOutputs writes stack outputs as `pulumi stack output --json` does
// and returns the file.
func writeOutputs(t *testing.T, out outputs.Stack) string {
	t.Helper()
	return writeJSONFile(t, "outputs.json", out)
}

func TestDeployed(t *testing.T) {
	t.Parallel()
	s, outFile, env, out := deployed(t)
	prop := verifytest.NewPropagation(t, demoWorkers(t), out)
	junit := filepath.Join(t.TempDir(), "verify.xml")
	r := runVia(t, env, prop, nil, "--outputs", outFile, "--json", "--junit", junit)
	if r.err != nil {
		t.Fatalf("exit %d: %v\n%s\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	var rep zverify.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "verify-deployed.json", maskReport(r.stdout))
	kinds := map[zverify.Kind]int{}
	for _, c := range rep.Checks {
		kinds[c.Kind]++
	}
	// 30 resource checks: 16 buckets, queues and consumers, the buckets'
	// 4 lifecycle rules, the spend database each of the four Workers binds
	// (the demo stack has a budget), each product's KEYS namespace and the two
	// event agents' Workflows. 34 route checks: every product has keys, so
	// verify makes its own: health, no key, customer key, method, bad
	// input, the pattern's own (unknown job and job or batch; cache), other
	// customer (but edge-cache) and revoke keys.
	if !rep.Passed || rep.Target != "deployed" || kinds[zverify.KindRoute] != 34 || kinds[zverify.KindResource] != 30 {
		t.Errorf("report: passed %v, target %s, kinds %v", rep.Passed, rep.Target, kinds)
	}
	checkOwnKeysRevoked(t, s, out, 7)
	// Each record written to the fake reached the Workers' KV: 7 keys,
	// created and revoked.
	if n := prop.Writes(); n != 14 {
		t.Errorf("%d KV writes propagated, want 14 (2 per key)", n)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name string `xml:"name,attr"`
		} `xml:"testsuite"`
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &doc); err != nil || doc.Tests != len(rep.Checks) || doc.Failures != 0 || len(doc.Suites) != 4 {
		t.Errorf("junit: %v %+v", err, doc)
	}

	// Drift: a consumer with the wrong batch size and a missing bucket.
	s.Update(func(st *cftest.State) {
		a := st.Accounts[demoPlan(t).AccountID]
		for _, q := range a.Queues {
			if q.Name == "email-worker-demo-jobs" {
				q.Consumers[0].Settings.BatchSize = 50
			}
		}
		a.Buckets = slices.DeleteFunc(a.Buckets, func(b cftest.Bucket) bool { return b.Name == "ai-relay-demo-outputs" })
	})
	r = runVia(t, env, prop, nil, "--outputs", outFile, "--junit", junit)
	if r.code != cmdutil.ExitFailed {
		t.Fatalf("drift: exit %d: %v", r.code, r.err)
	}
	for _, want := range []string{"FAIL email-worker: consumer of email-worker-demo-jobs: mismatched settings.batch_size: expected 1, got 50",
		"FAIL ai-relay: r2 bucket ai-relay-demo-outputs: missing R2 bucket ai-relay-demo-outputs",
		"FAIL ai-relay: r2 lifecycle ai-relay-demo-outputs", "3 failed"} { // the rules went with the bucket
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	b, _ = os.ReadFile(junit)
	if err := xml.Unmarshal(b, &doc); err != nil || doc.Failures != 3 {
		t.Errorf("junit after drift: %v %+v", err, doc)
	}

	// Route checks only, without an API token: verify cannot make keys,
	// says so, and checks health and no key.
	r = run(t, map[string]string{}, nil, "--outputs", outFile, "--skip-resources")
	if r.err != nil || !strings.Contains(r.stdout, "8 checks, 8 passed") ||
		!strings.Contains(r.stderr, "CLOUDFLARE_API_TOKEN is not set (verify writes its keys with it: Workers KV Storage: Edit): verify makes no key of its own") {
		t.Errorf("--skip-resources: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
}

func TestDeployedConfigErrors(t *testing.T) {
	t.Parallel()
	_, outFile, env, _ := deployed(t)
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"x": 1}`), 0o644)
	for name, c := range map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"no API token":    {map[string]string{}, []string{"--outputs", outFile}, "CLOUDFLARE_API_TOKEN is not set"},
		"bad outputs":     {env, []string{"--outputs", bad}, "name no zerocost product"},
		"missing outputs": {env, []string{"--outputs", filepath.Join(t.TempDir(), "none.json")}, "no such file"},
		"bad API URL":     {env, []string{"--outputs", outFile, "--cloudflare-api-url", "ftp://x"}, "is not an http(s) URL"},
		"unknown product": {env, []string{"--outputs", outFile, "--product", "nope"}, "--product nope: stack demo has no such product"},
		"unknown stack":   {env, []string{"--stack", "nope"}, "Pulumi.nope.yaml"},
	} {
		r := run(t, c.env, nil, c.args...)
		if r.code != cmdutil.ExitUsage || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%s: exit %d: %v", name, r.code, r.err)
		}
	}
	// A bad token is not a usage error: the resource checks fail, naming it.
	r := run(t, map[string]string{cfapi.EnvToken: "wrong", cfapi.EnvBaseURL: env[cfapi.EnvBaseURL]}, nil, "--outputs", outFile, "--product", "ai-relay")
	if r.code != cmdutil.ExitFailed || !strings.Contains(r.stdout, "Authentication error (code 10000)") {
		t.Errorf("bad token: exit %d: %v\n%s", r.code, r.err, r.stdout)
	}
}

// redirect sends every request for a host to a local server instead.
type redirect map[string]string

func (rd redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	to, ok := rd[req.URL.Host]
	if !ok {
		return nil, errors.New("no route to " + req.URL.Host + " in this test")
	}
	u, _ := url.Parse(to)
	r := req.Clone(req.Context())
	r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, u.Host
	return http.DefaultTransport.RoundTrip(r)
}

// Without --outputs and without pulumi, the plan's URLs are used.
func TestDeployedFromThePlan(t *testing.T) {
	t.Parallel()
	p := demoPlan(t)
	urls := verifytest.URLs(demoWorkers(t))
	rd := redirect{}
	for _, pr := range p.Products {
		u, _ := url.Parse(pr.URL)
		rd[u.Host] = urls[pr.Name]
	}
	io, out, errOut := cmdutil.Test()
	f := &cmdutil.Factory{IO: io, ProjectDir: projectDir, Getenv: func(string) string { return "" },
		HTTPClient: func() *http.Client { return &http.Client{Transport: rd, Timeout: 10 * time.Second} }, SelectedStack: cmdtest.Selected("demo")}
	r := runWith(t, f, out, errOut, nil, "--skip-resources")
	if r.err != nil {
		t.Fatalf("exit %d: %v\n%s\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "no --outputs and no pulumi CLI on PATH: using the URLs of the plan") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

// The parts of a report that change from run to run: durations, the start
// time, the Workers' ports, the jobs' ids, how many polls a job took and at
// which attempt the cache answered, the prefixes and expiry of verify's
// own keys.
var (
	reportDurations = regexp.MustCompile(`"(latency_ms|duration_ms)": [0-9]+`)
	reportStart     = regexp.MustCompile(`"started_at": "[^"]*"`)
	reportPorts     = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)
	reportIDs       = regexp.MustCompile(`\b[0-9a-f]{32,}\b`)
	reportPolls     = regexp.MustCompile(`after [0-9]+ polls?`)
	reportAttempt   = regexp.MustCompile(`\(attempt [0-9]+\)`)
	reportKeys      = regexp.MustCompile(`\bzck_[0-9A-Za-z]{8}\b`)
	reportTimes     = regexp.MustCompile(`\b[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\b`)
)

// maskReport makes `verify --json`'s report comparable with a golden file.
func maskReport(s string) []byte {
	s = reportDurations.ReplaceAllString(s, `"$1": 0`)
	s = reportStart.ReplaceAllString(s, `"started_at": "START"`)
	s = reportPorts.ReplaceAllString(s, "127.0.0.1:PORT")
	s = reportPolls.ReplaceAllString(s, "after N polls")
	s = reportAttempt.ReplaceAllString(s, "(attempt N)")
	s = reportKeys.ReplaceAllString(s, "zck_PREFIX")
	s = reportTimes.ReplaceAllString(s, "TIME")
	return []byte(reportIDs.ReplaceAllString(s, "ID"))
}

// failingSource is a pulumi CLI that fails.
type failingSource struct{}

func (failingSource) Outputs(context.Context, string, string) (outputs.Stack, error) {
	return nil, errors.New("`pulumi stack output --json --stack prod` failed: exit status 255: error: no stack named 'prod' found")
}

// A failing pulumi is a configuration error, not a silent fallback.
func TestPulumiFails(t *testing.T) {
	r := run(t, map[string]string{}, func(o *Options) { o.Outputs = failingSource{} }, "--skip-resources")
	if r.code != cmdutil.ExitUsage || !strings.Contains(r.err.Error(), "or pass the outputs with --outputs FILE") {
		t.Errorf("exit %d: %v", r.code, r.err)
	}
}

// A stack with zerocost:authToken needs ZEROCOST_AUTH_TOKEN, and verify sends it.
func TestAuthToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: authy\nruntime: go\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "Pulumi.authy.yaml"), []byte(`config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:workersDevSubdomain: zc
  zerocost:authToken:
    secure: AAABAKx
  zerocost:products:
    - name: relay
      pattern: edge-cache
      systemPrompt: You answer briefly.
`), 0o644)
	_, p := plantest.Load(t, dir, "authy")
	// Its real Workers, with the token as their AUTH_TOKEN.
	rt := verifytest.Workers(t, devrun.Options{ProjectDir: dir, Stack: "authy", Plan: p, AuthToken: "let-me-in"})
	urls := verifytest.URLs(rt)
	outFile := writeJSONFile(t, "outputs.json", map[string]any{"relay": map[string]any{"pattern": "edge-cache", "script": "relay-authy", "url": urls["relay"]}})

	exec := func(env map[string]string) result {
		io, out, errOut := cmdutil.Test()
		f := &cmdutil.Factory{IO: io, ProjectDir: dir, Getenv: func(k string) string { return env[k] }}
		return runWith(t, f, out, errOut, nil, "--stack", "authy", "--outputs", outFile, "--skip-resources")
	}
	r := exec(map[string]string{})
	if r.code != cmdutil.ExitUsage || !strings.Contains(r.err.Error(), "set ZEROCOST_AUTH_TOKEN") {
		t.Errorf("no token: exit %d: %v", r.code, r.err)
	}
	r = exec(map[string]string{cmdutil.EnvAuthToken: "let-me-in"})
	if r.err != nil || !regexp.MustCompile(`relay +route +auth +ok`).MatchString(r.stdout) {
		t.Errorf("with token: %v\n%s", r.err, r.stdout)
	}
	r = exec(map[string]string{cmdutil.EnvAuthToken: "wrong"})
	if r.code != cmdutil.ExitFailed || !strings.Contains(r.stdout, "set ZEROCOST_AUTH_TOKEN") {
		t.Errorf("wrong token: exit %d: %v\n%s", r.code, r.err, r.stdout)
	}
}
