package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cftest"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/deploy"
	"github.com/zerocost/zerocost/internal/outputs"
	zverify "github.com/zerocost/zerocost/internal/verify"
)

const (
	account = "0123456789abcdef0123456789abcdef"
	cfToken = "cf-token"
)

func TestFlags(t *testing.T) {
	got, err := cmdtest.Parse(NewCmd)
	if err != nil {
		t.Fatal(err)
	}
	if got.Stack != "demo" || got.Yes || got.Refresh || got.SkipVerify || got.NoRollback || got.JSON || got.JUnit != "" || got.Usage != "" {
		t.Errorf("defaults %+v", got)
	}
	got, err = cmdtest.Parse(NewCmd, "--stack", "prod", "-y", "--refresh", "--no-rollback", "--json", "--junit", "r/v.xml", "--usage", "u.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got.Stack != "prod" || !got.Yes || !got.Refresh || !got.NoRollback || !got.JSON || got.JUnit != "r/v.xml" || got.Usage != "u.toml" {
		t.Errorf("options %+v", got)
	}
	if got, err = cmdtest.Parse(NewCmd, "--skip-verify", "--junit", "x.xml"); got != nil {
		t.Error("ran")
	}
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "--skip-verify") {
		t.Errorf("--skip-verify --junit: %v", err)
	}
	if got, err = cmdtest.Parse(NewCmd, "--skip-verify", "--skip-routes"); got != nil {
		t.Error("ran")
	}
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "--skip-routes") {
		t.Errorf("--skip-verify --skip-routes: %v", err)
	}
}

// --skip-routes reaches verification: resource checks only.
func TestSkipRoutes(t *testing.T) {
	for _, skip := range []bool{false, true} {
		e := newEnv(t)
		args := []string{"--yes"}
		if skip {
			args = append(args, "--skip-routes")
		}
		if _, stderr, err := e.run(args...); err != nil {
			t.Fatalf("deploy %v: %v\n%s", args, err, stderr)
		}
		if len(e.verified) != 1 || e.verified[0].SkipRoutes != skip {
			t.Errorf("deploy %v: verified %d times, SkipRoutes %v", args, len(e.verified), len(e.verified) > 0 && e.verified[0].SkipRoutes)
		}
	}
}

// The deploy workflow's command line parses into what docs/ci.md says.
func TestWorkflowCommandLine(t *testing.T) {
	b, err := os.ReadFile("../../../.github/workflows/deploy.yml")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`zerocost deploy ([^\n]*)`).FindStringSubmatch(string(b))
	if line == nil {
		t.Fatal("deploy.yml runs no `zerocost deploy`")
	}
	args := strings.Fields(strings.ReplaceAll(line[1], `"$ZEROCOST_STACK"`, "demo"))
	got, err := cmdtest.Parse(NewCmd, args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	if !got.Yes || got.Stack != "demo" || got.JUnit != "reports/verify.xml" {
		t.Errorf("%v parsed to %+v", args, got)
	}
}

// ---- a project, a fake stack and a fake Cloudflare ----

const stackYAML = `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:workersDevSubdomain: zc
  zerocost:anthropicApiKey:
    secure: AAABAKxyz
  zerocost:products:
    - name: relay
      pattern: edge-cache
      systemPrompt: Answer briefly.
    - name: agent
      pattern: event-agent
      systemPrompt: Help.
`

func project(t *testing.T, stackFile, extra string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: zerocost\nruntime: go\nmain: infra/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, stackFile), []byte(stackYAML+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// stackRunner stands in for the pulumi CLI; Up uploads new versions of
// the Workers to the fake Cloudflare, as `pulumi up` would.
type stackRunner struct {
	cf      *cftest.VersionsServer
	calls   []string
	current outputs.Stack
	config  map[string]string
}

var upOutputs = outputs.Stack{
	"relay": {Pattern: "edge-cache", Script: "relay-test", URL: "https://relay-test.zc.workers.dev"},
	"agent": {Pattern: "event-agent", Script: "agent-test", URL: "https://agent-test.zc.workers.dev"},
}

func (r *stackRunner) Refresh(context.Context, deploy.Progress) (deploy.Changes, error) {
	r.calls = append(r.calls, "refresh")
	return deploy.Changes{"same": 2}, nil
}

func (r *stackRunner) Preview(context.Context, deploy.Progress) (deploy.Changes, error) {
	r.calls = append(r.calls, "preview")
	return deploy.Changes{"update": 1, "create": 1, "same": 10}, nil
}

func (r *stackRunner) Up(_ context.Context, p deploy.Progress) (deploy.Changes, outputs.Stack, error) {
	r.calls = append(r.calls, "up")
	p.Step(deploy.Step{Op: "update", URN: "urn:pulumi:test::zerocost::cloudflare:index/workersScript:WorkersScript::relay-test"})
	p.Step(deploy.Step{Op: "create", URN: "urn:pulumi:test::zerocost::cloudflare:index/workersScript:WorkersScript::agent-test"})
	r.cf.Deploy(account, "relay-test")
	r.cf.Deploy(account, "agent-test")
	return deploy.Changes{"update": 1, "create": 1, "same": 10}, upOutputs, nil
}

func (r *stackRunner) Outputs(context.Context) (outputs.Stack, error) {
	r.calls = append(r.calls, "outputs")
	if r.current == nil {
		return outputs.Stack{}, nil
	}
	return r.current, nil
}

func (r *stackRunner) Config(_ context.Context, key string) (string, bool, error) {
	r.calls = append(r.calls, "config "+key)
	v, ok := r.config[key]
	return v, ok, nil
}

type env struct {
	t        *testing.T
	dir      string
	cf       *cftest.VersionsServer
	runner   *stackRunner
	vars     map[string]string
	opened   []string
	verdicts []bool
	verified []zverify.Options
	noCLI    bool
	terminal bool
	stdin    string
}

func newEnv(t *testing.T) *env {
	cf := cftest.NewVersions(t, cftest.WithToken(cfToken))
	cf.AddAccount(account)
	e := &env{t: t, dir: project(t, "Pulumi.test.yaml", ""), cf: cf, verdicts: []bool{true}}
	e.runner = &stackRunner{cf: cf}
	e.vars = map[string]string{
		"HOME":                    t.TempDir(),
		"PULUMI_ACCESS_TOKEN":     "pul-test",
		deploy.EnvCloudflareToken: cfToken,
		cfapi.EnvBaseURL:          cf.URL, // a bare origin: /client/v4/ is added
	}
	return e
}

// run runs the command and returns stdout, stderr and the error.
func (e *env) run(args ...string) (string, string, error) {
	e.t.Helper()
	ios, out, errOut := cmdutil.Test()
	ios.In = strings.NewReader(e.stdin)
	f := &cmdutil.Factory{IO: ios, ProjectDir: e.dir, Getenv: func(k string) string { return e.vars[k] }}
	var opts *Options
	cmd := NewCmd(f, func(o *Options) error {
		opts = o
		o.lookPath = func(name string) (string, error) {
			if e.noCLI {
				return "", exec.ErrNotFound
			}
			return "/opt/pulumi/bin/" + name, nil
		}
		o.isTerminal = func() bool { return e.terminal }
		o.open = func(_ context.Context, stack, dir string) (deploy.Runner, error) {
			e.opened = append(e.opened, stack+" in "+dir)
			return e.runner, nil
		}
		o.verify = func(ctx context.Context, vo zverify.Options) (*zverify.Report, error) {
			e.verified = append(e.verified, vo)
			passed := e.verdicts[min(len(e.verified), len(e.verdicts))-1]
			rep := &zverify.Report{Stack: vo.Plan.Stack, Target: vo.Target.Name, Passed: passed}
			for i, name := range []string{"health", "cache"} {
				c := zverify.Check{Product: "relay", Check: name, Kind: zverify.KindRoute, Status: zverify.Pass}
				if !passed && i == 1 {
					c.Status, c.Detail = zverify.Fail, "second question was a MISS"
				}
				rep.Checks = append(rep.Checks, c)
				vo.Progress(i+1, 2, c)
			}
			return rep, nil
		}
		return Run(o)
	})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true // as the root command does
	err := cmdtest.Execute(cmd, ios, append([]string{"--stack", "test"}, args...)...)
	_ = opts
	return out.String(), errOut.String(), err
}

// events parses --json output, checking every line is one JSON event.
func events(t *testing.T, stdout string) []deploy.Event {
	t.Helper()
	var out []deploy.Event
	for i, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var e deploy.Event
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("line %d is not an event: %v\n%s", i+1, err, line)
		}
		if e.Time == "" || e.Type == "" {
			t.Errorf("line %d lacks time or type: %s", i+1, line)
		}
		out = append(out, e)
	}
	return out
}

func TestDeployJSON(t *testing.T) {
	e := newEnv(t)
	junit := filepath.Join(t.TempDir(), "reports", "verify.xml")
	stdout, stderr, err := e.run("--yes", "--json", "--junit", junit)
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, stdout, stderr)
	}
	evs := events(t, stdout)
	last := evs[len(evs)-1]
	if last.Type != deploy.EventResult || last.Outcome != deploy.OutcomeDeployed || *last.ExitCode != 0 {
		t.Errorf("result %+v", last)
	}
	var checks, scripts int
	for _, ev := range evs {
		switch ev.Type {
		case deploy.EventCheck:
			checks++
		case deploy.EventScript:
			scripts++
			if ev.Status != deploy.ScriptNew {
				t.Errorf("snapshot of a Worker that does not exist yet: %+v", ev)
			}
		}
	}
	if checks != 2 || scripts != 2 {
		t.Errorf("%d check events, %d script events", checks, scripts)
	}
	if want := []string{"test in " + e.dir}; !slices.Equal(e.opened, want) {
		t.Errorf("opened %v, want %v", e.opened, want)
	}
	if len(e.verified) != 1 || e.verified[0].Target.URLs["relay"] != "https://relay-test.zc.workers.dev" ||
		e.verified[0].Resources == nil || e.verified[0].Outputs["agent"].Script != "agent-test" {
		t.Errorf("verify options %+v", e.verified)
	}
	// The routes are checked, so verify may write keys of its own.
	if len(e.verified) == 1 && e.verified[0].Target.PutKey == nil {
		t.Error("verify cannot write keys of its own on the deployed stack")
	}
	if b, err := os.ReadFile(junit); err != nil || !bytes.Contains(b, []byte("<testsuites")) {
		t.Errorf("JUnit: %v %s", err, b)
	}
	if stderr != "" {
		t.Errorf("stderr %q", stderr)
	}
}

// Verification fails: relay-test (changed) is rolled back on the fake
// Cloudflare API, agent-test (new) is reported, verification runs again
// and writes its own JUnit file; exit 1.
func TestDeployRollsBack(t *testing.T) {
	e := newEnv(t)
	before := e.cf.Deploy(account, "relay-test")
	e.verdicts = []bool{false, true}
	junit := filepath.Join(t.TempDir(), "verify.xml")
	stdout, _, err := e.run("--yes", "--json", "--junit", junit)
	if cmdutil.ExitCode(err) != 1 || !strings.Contains(err.Error(), "rolled back relay-test") || !strings.Contains(err.Error(), "agent-test (new") {
		t.Fatalf("err %v", err)
	}
	if got := e.cf.Active(account, "relay-test"); len(got) != 1 || got[0].VersionID != before {
		t.Errorf("relay-test serves %v, want %s", got, before)
	}
	evs := events(t, stdout)
	last := evs[len(evs)-1]
	if last.Outcome != deploy.OutcomeRolledBack || *last.ExitCode != 1 || !slices.Equal(last.RolledBack, []string{"relay-test"}) ||
		!slices.Equal(last.NotRolledBack, []string{"agent-test"}) {
		t.Errorf("result %+v", last)
	}
	var reverifyChecks int
	for _, ev := range evs {
		if ev.Type == deploy.EventCheck && ev.Phase == deploy.PhaseReverify {
			reverifyChecks++
		}
	}
	if reverifyChecks != 2 {
		t.Errorf("%d checks in the second verification", reverifyChecks)
	}
	for _, p := range []string{junit, strings.TrimSuffix(junit, ".xml") + "-after-rollback.xml"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("JUnit file: %v", err)
		}
	}
}

func TestDeployAsksOnATerminal(t *testing.T) {
	for _, c := range []struct {
		answer string
		code   int
	}{{"y\n", 0}, {"YES\n", 0}, {"n\n", 1}, {"", 1}, {"maybe\n", 1}} {
		e := newEnv(t)
		e.terminal, e.stdin = true, c.answer
		stdout, stderr, err := e.run()
		if cmdutil.ExitCode(err) != c.code {
			t.Errorf("answer %q: exit %d (%v)", c.answer, cmdutil.ExitCode(err), err)
		}
		if !strings.Contains(stderr, "Deploy stack test: 1 to create, 1 to update, 10 unchanged? [y/N] ") {
			t.Errorf("answer %q: prompt %q", c.answer, stderr)
		}
		ran := slices.Contains(e.runner.calls, "up")
		if ran != (c.code == 0) {
			t.Errorf("answer %q: up ran %v", c.answer, ran)
		}
		if c.code == 0 && !strings.Contains(stdout, "deployed and verified stack test") {
			t.Errorf("answer %q: stdout\n%s", c.answer, stdout)
		}
	}
}

func TestDeployTextProgress(t *testing.T) {
	e := newEnv(t)
	stdout, _, err := e.run("--yes", "--refresh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"==> open: stack test", "==> refresh", "==> preview", "    1 to create, 1 to update, 10 unchanged",
		"--- cost skipped: no usage profile", "--- confirm skipped: --yes", "    relay-test: new Worker", "==> up",
		"    [1/2] update WorkersScript relay-test", "    [2/2] create WorkersScript agent-test", "    [2/2] pass relay cache",
		"    verification passed: 2 checks passed", "deployed and verified stack test (1 to create, 1 to update, 10 unchanged)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("no %q in\n%s", want, stdout)
		}
	}
	if !slices.Equal(e.runner.calls, []string{"refresh", "preview", "up"}) {
		t.Errorf("calls %v", e.runner.calls)
	}
}

func TestDeployRefusesWithoutATerminal(t *testing.T) {
	e := newEnv(t)
	_, _, err := e.run()
	if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), "pass --yes") {
		t.Errorf("err %v", err)
	}
	if len(e.opened) != 0 {
		t.Error("opened the stack")
	}
}

func TestDeployEnvironmentProblems(t *testing.T) {
	for name, c := range map[string]struct {
		change func(*env)
		want   []string
	}{
		"pulumi CLI missing":  {func(e *env) { e.noCLI = true }, []string{"pulumi CLI is not on PATH"}},
		"no Cloudflare token": {func(e *env) { delete(e.vars, deploy.EnvCloudflareToken) }, []string{"CLOUDFLARE_API_TOKEN"}},
		"no Pulumi backend":   {func(e *env) { delete(e.vars, "PULUMI_ACCESS_TOKEN") }, []string{"no Pulumi backend"}},
		"bad API URL":         {func(e *env) { e.vars[cfapi.EnvBaseURL] = "ftp://x" }, []string{cfapi.EnvBaseURL, "not an http(s) URL"}},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			c.change(e)
			_, _, err := e.run("--yes")
			if cmdutil.ExitCode(err) != 2 {
				t.Fatalf("exit %d: %v", cmdutil.ExitCode(err), err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v does not say %q", err, w)
				}
			}
			if len(e.opened) != 0 {
				t.Error("opened the stack")
			}
		})
	}
}

func TestDeployMissingSecret(t *testing.T) {
	e := newEnv(t)
	e.dir = project(t, "Pulumi.test.yaml", "")
	b, _ := os.ReadFile(filepath.Join(e.dir, "Pulumi.test.yaml"))
	noKey := strings.Replace(string(b), "  zerocost:anthropicApiKey:\n    secure: AAABAKxyz\n", "", 1)
	if err := os.WriteFile(filepath.Join(e.dir, "Pulumi.test.yaml"), []byte(noKey), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.run("--yes")
	if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), "pulumi config set --secret zerocost:anthropicApiKey") {
		t.Errorf("err %v", err)
	}
}

// A fully qualified stack reads Pulumi.<name>.yaml and opens org/name.
func TestDeployQualifiedStack(t *testing.T) {
	e := newEnv(t)
	_, _, err := e.run("--stack", "acme/test", "--yes", "--skip-verify")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"acme/test in " + e.dir}; !slices.Equal(e.opened, want) {
		t.Errorf("opened %v", e.opened)
	}
}

// The Workers' bearer token: ZEROCOST_AUTH_TOKEN, else the stack's config.
func TestDeployAuthToken(t *testing.T) {
	for _, fromEnv := range []bool{true, false} {
		e := newEnv(t)
		e.dir = project(t, "Pulumi.test.yaml", "  zerocost:authToken:\n    secure: AAABAKabc\n")
		e.runner.config = map[string]string{"zerocost:authToken": "from-config"}
		want := "from-config"
		if fromEnv {
			e.vars[cmdutil.EnvAuthToken] = "from-env"
			want = "from-env"
		}
		if _, _, err := e.run("--yes"); err != nil {
			t.Fatal(err)
		}
		if len(e.verified) != 1 || e.verified[0].AuthToken != want {
			t.Errorf("from env %v: auth token %q, want %q", fromEnv, e.verified[0].AuthToken, want)
		}
	}
}

func TestDeployCostForecast(t *testing.T) {
	e := newEnv(t)
	e.runner.current = outputs.Stack{"relay": upOutputs["relay"]}
	profile := filepath.Join(t.TempDir(), "usage.toml")
	if err := os.WriteFile(profile, []byte(`plan = "free"
[[product]]
name = "relay"
pattern = "edge-cache"
requests = 100000
input_tokens = 400
output_tokens = 100
cache_hit_rate = 0.5
[[product]]
name = "agent"
pattern = "event-agent"
requests = 20000
input_tokens = 500
output_tokens = 300
`), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := e.run("--yes", "--json", "--usage", profile)
	if err != nil {
		t.Fatal(err)
	}
	var cost *deploy.CostDelta
	for _, ev := range events(t, stdout) {
		if ev.Type == deploy.EventCost {
			cost = ev.Cost
		}
	}
	if cost == nil {
		t.Fatalf("no cost event in\n%s", stdout)
	}
	// Before: the relay alone; after: the relay and the agent, whose model
	// calls cost money on any plan.
	if cost.Plan != "free" || cost.Source != profile || cost.BeforeUSD <= 0 || cost.AfterUSD <= cost.BeforeUSD ||
		cost.DeltaUSD != cost.AfterUSD-cost.BeforeUSD || len(cost.Unpriced) != 0 {
		t.Errorf("cost %+v", cost)
	}
	// A product the profile does not list is named.
	d, err := costForecaster{path: profile}.Forecast(context.Background(), nil, []string{"relay", "other"})
	if err != nil || !slices.Equal(d.Unpriced, []string{"other"}) || d.BeforeUSD != 0 {
		t.Errorf("forecast %+v %v", d, err)
	}
	if _, err := (costForecaster{path: "missing.toml"}).Forecast(context.Background(), nil, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing profile: %v", err)
	}
}

func TestJUnitPath(t *testing.T) {
	for _, c := range []struct {
		path string
		run  int
		want string
	}{
		{"reports/verify.xml", 1, "reports/verify.xml"},
		{"reports/verify.xml", 2, "reports/verify-after-rollback.xml"},
		{"verify", 2, "verify-after-rollback"},
	} {
		if got := junitPath(c.path, c.run); got != c.want {
			t.Errorf("junitPath(%q, %d) = %q, want %q", c.path, c.run, got, c.want)
		}
	}
}
