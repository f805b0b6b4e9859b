package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/devrun/devruntest"
	"github.com/zerocost/zerocost/internal/nodetool"
)

const projectDir = "../../.."

func TestFlags(t *testing.T) {
	got, err := cmdtest.Parse(NewCmd)
	if err != nil {
		t.Fatal(err)
	}
	if got.Stack != "demo" || got.JSON || got.Reset || got.PortBase != 0 || got.ModelLatency != 0 || got.ModelErrorRate != 0 || got.ModelRPM != 0 {
		t.Errorf("defaults %+v", got)
	}
	got, err = cmdtest.Parse(NewCmd, "--stack", "prod", "--json", "--reset", "--port-base", "9000",
		"--model-latency", "200ms", "--model-error-rate", "0.25", "--model-429-share", "0.5", "--model-rpm", "30")
	if err != nil {
		t.Fatal(err)
	}
	if got.Stack != "prod" || !got.JSON || !got.Reset || got.PortBase != 9000 || got.ModelLatency != 200*time.Millisecond ||
		got.ModelErrorRate != 0.25 || got.Model429Share != 0.5 || got.ModelRPM != 30 {
		t.Errorf("parsed %+v", got)
	}

	if !got.FireCrons || got.TriggerCron != "" || got.Batch.Expiry != 24*time.Hour || got.Batch.ErrorType != "api_error" {
		t.Errorf("cron and batch defaults %+v", got)
	}
	got, err = cmdtest.Parse(NewCmd, "--model-batch-delay", "2m", "--model-batch-cancel-delay", "5s", "--model-batch-expiry", "1h",
		"--model-batch-error-rate", "0.3", "--model-batch-error-every", "4", "--model-batch-error-match", "^bad",
		"--model-batch-error-type", "overloaded_error", "--model-batch-expire-rate", "0.1", "--model-batch-expire-every", "9",
		"--model-batch-expire-match", "late$", "--crons=false")
	if err != nil {
		t.Fatal(err)
	}
	so, err := got.standIn()
	b := so.Batch
	if err != nil || b.Delay != 2*time.Minute || b.CancelDelay != 5*time.Second || b.Expiry != time.Hour ||
		b.Errors.Rate != 0.3 || b.Errors.Every != 4 || b.Errors.Match.String() != "^bad" || b.ErrorType != "overloaded_error" ||
		b.Expire.Rate != 0.1 || b.Expire.Every != 9 || b.Expire.Match.String() != "late$" || got.FireCrons || !got.shapesStandIn() {
		t.Errorf("batch flags: %+v %v", b, err)
	}
	if d, _ := cmdtest.Parse(NewCmd); d.shapesStandIn() {
		t.Error("the defaults shape the stand-in")
	}
	got, err = cmdtest.Parse(NewCmd, "--trigger-cron", "email-worker", "--cron", "*/5 * * * *")
	if err != nil || got.TriggerCron != "email-worker" || got.Cron != "*/5 * * * *" {
		t.Errorf("--trigger-cron: %+v %v", got, err)
	}

	for _, args := range [][]string{
		{"--model-batch-error-rate", "2"},
		{"--model-batch-expire-every", "-1"},
		{"--model-batch-delay", "-1s"},
		{"--model-batch-error-match", "("},
		{"--model-batch-error-type", "nope"},
		{"--trigger-cron", "x", "--reset"},
		{"--trigger-cron", "x", "--json"},
		{"--cron", "* * * * *"},
		{"--model-error-rate", "1.5"},
		{"--model-error-rate", "-0.1"},
		{"--model-429-share", "2"},
		{"--model-rpm", "-1"},
		{"--model-latency", "-1s"},
		{"--port-base", "70000"},
	} {
		got, err := cmdtest.Parse(NewCmd, args...)
		if got != nil {
			t.Errorf("%v: ran", args)
		}
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%v: exit %d (%v), want 2", args, cmdutil.ExitCode(err), err)
		}
	}
}

func TestUnknownStack(t *testing.T) {
	io, _, _ := cmdutil.Test()
	cmd := NewCmd(&cmdutil.Factory{IO: io, ProjectDir: projectDir}, nil)
	cmd.SetArgs([]string{"--stack", "nope"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "Pulumi.nope.yaml") {
		t.Errorf("got %v", err)
	}
}

// Without Node >= 22.12 or workers-src/node_modules: a clear error, exit 2.
func TestMissingNodeIsExit2(t *testing.T) {
	t.Setenv("ZEROCOST_NODE", "")
	io, _, _ := cmdutil.Test()
	cmd := NewCmd(&cmdutil.Factory{IO: io, ProjectDir: projectDir}, func(o *Options) error {
		o.ToolsDir = t.TempDir() // no node_modules, no .tools/node22
		o.DataDir = t.TempDir()
		return Run(o)
	})
	cmd.SetArgs([]string{})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "make deps") {
		t.Errorf("exit %d: %v", cmdutil.ExitCode(err), err)
	}
}

// runDev runs the real command until its first stdout line, returning the line
// and a function that stops it (as Ctrl-C would) and returns its error.
func runDev(t *testing.T, env map[string]string, args ...string) (string, string, func() error) {
	t.Helper()
	return runDevIn(t, projectDir, env, args...)
}

// runDevIn is runDev in another project folder (the tools stay the repo's).
func runDevIn(t *testing.T, dir string, env map[string]string, args ...string) (string, string, func() error) {
	t.Helper()
	if _, err := nodetool.Find(projectDir); err != nil {
		t.Fatalf("zerocost dev needs Node >= 22.12 and workers-src/node_modules: %v", err)
	}
	out, errOut := &devruntest.Log{}, &devruntest.Log{}
	f := &cmdutil.Factory{
		IO:         &cmdutil.IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: errOut},
		ProjectDir: dir,
		HTTPClient: func() *http.Client { return http.DefaultClient },
		Getenv:     func(k string) string { return env[k] },
	}
	dataDir := t.TempDir()
	tools, _ := filepath.Abs(projectDir)
	cmd := NewCmd(f, func(o *Options) error { o.DataDir, o.ToolsDir = dataDir, tools; return Run(o) })
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() { runErr = cmd.ExecuteContext(ctx); close(done) }()
	stop := func() error {
		cancel()
		select {
		case <-done:
			return runErr
		case <-time.After(30 * time.Second):
			t.Fatal("zerocost dev did not stop within 30 s")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < 1200 && time.Now().Before(deadline); i++ {
		if s := out.String(); strings.Contains(s, "\n") {
			return s, dataDir, stop
		}
		select {
		case <-done:
			t.Fatalf("zerocost dev exited before it was ready: %v\nstderr:\n%s", runErr, errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("zerocost dev printed nothing within 60 s; stderr:\n%s", errOut.String())
	return "", "", nil
}

func TestJSONReadyLine(t *testing.T) {
	start := time.Now()
	line, dataDir, stop := runDev(t, map[string]string{}, "--json")
	t.Logf("ready line after %s", time.Since(start).Round(time.Millisecond))
	var got Output
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(line), &raw)
	if _, ok := raw["products"].([]any); !ok {
		t.Errorf("no products array: %s", line)
	}
	if m, ok := raw["model"].(map[string]any); !ok || m["stand_in"] != true || m["url"] == "" {
		t.Errorf("model: %s", line)
	}
	if len(got.Products) != 4 || !got.Model.StandIn {
		t.Fatalf("ready line %+v", got)
	}
	for _, p := range got.Products {
		if p.Name == "" || p.Pattern == "" || !strings.HasPrefix(p.URL, "http://127.0.0.1:") {
			t.Errorf("product %+v", p)
		}
		// Every demo product has keys: its dev key is in its object.
		if !strings.HasPrefix(p.Key, "zck_") || len(p.Key) != 40 {
			t.Errorf("%s: key %q", p.Name, p.Key)
		}
		resp, err := http.Get(p.URL + "/health")
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s /health: %v %v", p.Name, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	// The state file says the same, for `zerocost verify --local`.
	st, err := devrun.ReadStateFile(filepath.Join(dataDir, "dev", "demo.json"))
	if err != nil || len(st.Products) != 4 || st.Model != got.Model || !reflect.DeepEqual(st.Products[0], got.Products[0]) {
		t.Errorf("state %+v %v", st, err)
	}
	if err := stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	for _, p := range got.Products {
		port := p.URL[strings.LastIndexByte(p.URL, ':')+1:]
		ln, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Errorf("%s: port %s still taken: %v", p.Name, port, err)
		} else {
			ln.Close()
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "dev", "demo.json")); !os.IsNotExist(err) {
		t.Errorf("state file left: %v", err)
	}
}

func TestTextLines(t *testing.T) {
	out, _, stop := runDev(t, map[string]string{"ZEROCOST_AUTH_TOKEN": "tok"})
	if err := stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// One line per product (name, pattern, access, URL), then where to get a
	// customer key: the dev keys themselves are never printed here.
	if len(lines) != 5 || !strings.Contains(lines[4], "zerocost keys create --local --stack demo") || strings.Contains(out, "zck_") {
		t.Fatalf("want one line per product and the keys hint:\n%s", out)
	}
	for i, want := range []string{"sales-engine", "email-worker", "ai-relay", "delivery-worker"} {
		f := strings.Fields(lines[i])
		if len(f) != 4 || f[0] != want || f[2] != "keys" || !strings.HasPrefix(f[3], "http://127.0.0.1:") {
			t.Errorf("line %q", lines[i])
		}
		if _, err := strconv.Atoi(f[3][strings.LastIndexByte(f[3], ':')+1:]); err != nil {
			t.Errorf("line %q: no port", lines[i])
		}
	}
}

// --trigger-cron runs a product's scheduled handler in the running dev and
// exits: 0 when it returned, 1 when it threw, 2 when dev does not run or the
// product or cron is not there.
func TestTriggerCron(t *testing.T) {
	dir := devruntest.CronProject(t, "*/5 * * * *", "tok-trigger-cron")
	_, dataDir, stop := runDevIn(t, dir, map[string]string{}, "--stack", "cron", "--crons=false")
	defer stop()
	trigger := func(dataDir string, args ...string) (string, error) {
		t.Helper()
		out := &bytes.Buffer{}
		f := &cmdutil.Factory{IO: &cmdutil.IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: &bytes.Buffer{}}, ProjectDir: dir}
		cmd := NewCmd(f, func(o *Options) error { o.DataDir = dataDir; return Run(o) })
		cmd.SetArgs(append([]string{"--stack", "cron"}, args...))
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := cmd.ExecuteContext(ctx)
		return out.String(), err
	}

	out, err := trigger(dataDir, "--trigger-cron", "ticker", "--cron", "*/5 * * * *")
	if err != nil || !strings.HasPrefix(out, `ticker: cron "*/5 * * * *" (scheduled `) || !strings.Contains(out, "): ok in ") || strings.Count(out, "\n") != 1 {
		t.Errorf("one cron: %v\n%s", err, out)
	}
	out, err = trigger(dataDir, "--trigger-cron", "ticker")
	if cmdutil.ExitCode(err) != cmdutil.ExitFailed || !strings.Contains(err.Error(), `"0 0 1 1 *": exception`) ||
		!strings.Contains(out, `"*/5 * * * *"`) || !strings.Contains(out, `"0 0 1 1 *" (scheduled`) || !strings.Contains(out, "exception") {
		t.Errorf("each cron, one throws: exit %d %v\n%s", cmdutil.ExitCode(err), err, out)
	}
	for _, c := range []struct {
		dataDir string
		args    []string
		want    string
	}{
		{dataDir, []string{"--trigger-cron", "nope"}, `no product "nope"`},
		{dataDir, []string{"--trigger-cron", "quiet"}, "quiet has no cron triggers"},
		{dataDir, []string{"--trigger-cron", "ticker", "--cron", "* * * * *"}, `no cron "* * * * *"`},
		{t.TempDir(), []string{"--trigger-cron", "ticker"}, "no zerocost dev running for stack cron"},
	} {
		_, err := trigger(c.dataDir, c.args...)
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: exit %d %v, want 2 and %q", c.args, cmdutil.ExitCode(err), err, c.want)
		}
	}
}
