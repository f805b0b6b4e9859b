package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakePulumi is a stand-in for the pulumi CLI, driven by files in
// $FAKE_PULUMI_DIR. It takes the global flags CLIRunner passes, logs each
// command (working folder and arguments) to calls and the environment it saw
// to env, and answers:
//   - stack select --create: creates the stack when nostack exists;
//   - stack output, stack history: outputs.json, history.json;
//   - config get KEY: config-KEY, else the CLI's "not found" error (exit 1);
//   - preview, up, refresh: <cmd>.stderr fails the command (exit 1) before
//     the engine starts; else <cmd>.events (the CLI's engine events, JSON
//     lines) go to the --event-log file; with <cmd>.wait the first line is
//     written, then the fake waits (up to 10 s) for the file go-on before the
//     rest; <cmd>.exit is the exit code after the events (default 0).
//
// An interrupt (SIGINT) is logged to signals.
const fakePulumi = `#!/bin/sh
d="$FAKE_PULUMI_DIR"
trap 'echo interrupt >> "$d/signals"; exit 130' INT
cwd=""
while :; do
  case "$1" in
  --non-interactive) shift ;;
  --color) shift 2 ;;
  --cwd) cwd="$2"; shift 2 ;;
  *) break ;;
  esac
done
echo "$PWD: $*" >> "$d/calls"
echo "cwd=$cwd PULUMI_DEBUG_COMMANDS=$PULUMI_DEBUG_COMMANDS PULUMI_SKIP_UPDATE_CHECK=$PULUMI_SKIP_UPDATE_CHECK EXTRA=$EXTRA" >> "$d/env"
log=""; prev=""
for a in "$@"; do
  [ "$prev" = "--event-log" ] && log="$a"
  prev="$a"
done
case "$1" in
stack)
  case "$2" in
  select)
    if [ -f "$d/nostack" ] && [ ! -f "$d/created" ]; then touch "$d/created"; echo "Created stack 'demo'"; fi
    exit 0 ;;
  output) cat "$d/outputs.json"; exit 0 ;;
  history) cat "$d/history.json"; exit 0 ;;
  esac ;;
config)
  if [ -f "$d/config-$3" ]; then cat "$d/config-$3"; exit 0; fi
  echo "error: configuration key '${3#*:}' not found for stack 'demo'" >&2; exit 1 ;;
preview|up|refresh)
  if [ -f "$d/$1.stderr" ]; then cat "$d/$1.stderr" >&2; exit 1; fi
  if [ -n "$log" ] && [ -f "$d/$1.events" ]; then
    if [ -f "$d/$1.wait" ]; then
      head -n 1 "$d/$1.events" >> "$log"
      i=0
      while [ ! -f "$d/go-on" ]; do
        i=$((i+1))
        if [ $i -gt 200 ]; then echo "fake pulumi: no go-on within 10s" >&2; exit 4; fi
        sleep 0.05
      done
      tail -n +2 "$d/$1.events" >> "$log"
    else
      cat "$d/$1.events" >> "$log"
    fi
  fi
  echo "fake pulumi $1: done"
  if [ -f "$d/$1.exit" ]; then exit "$(cat "$d/$1.exit")"; fi
  exit 0 ;;
esac
echo "fake pulumi: unexpected command: $*" >&2
exit 3
`

type fakeCLI struct {
	dir     string // the fake's data
	project string // the project folder
}

// installFakePulumi puts the fake first on PATH.
func installFakePulumi(t *testing.T) *fakeCLI {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "pulumi"), []byte(fakePulumi), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	f := &fakeCLI{dir: t.TempDir(), project: t.TempDir()}
	t.Setenv("FAKE_PULUMI_DIR", f.dir)
	f.write(t, filepath.Join(f.project, "Pulumi.yaml"), "name: zerocost\nruntime: go\nmain: infra/\n")
	f.put(t, "outputs.json", "{}")
	f.put(t, "history.json", `[{"version":1,"kind":"update","startTime":"2026-11-27T12:00:00Z","message":"","environment":{},"config":{},"result":"succeeded","resourceChanges":{"update":9}}]`)
	return f
}

// openDemo opens the demo stack of project, failing the test when it cannot.
func openDemo(t *testing.T, project string) *CLIRunner {
	t.Helper()
	r, err := OpenCLI(tctx(t), "demo", project, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fakeCLI) write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fakeCLI) put(t *testing.T, name, text string) { f.write(t, filepath.Join(f.dir, name), text) }

// events writes engine events as the CLI logs them, one JSON object a line.
func (f *fakeCLI) events(t *testing.T, cmd string, evs ...map[string]any) {
	t.Helper()
	var b strings.Builder
	for i, e := range evs {
		e["sequence"], e["timestamp"] = i, 1764244800+i
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	f.put(t, cmd+".events", b.String())
}

func (f *fakeCLI) lines(t *testing.T, name string) []string {
	b, err := os.ReadFile(filepath.Join(f.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (f *fakeCLI) calls(t *testing.T) []string { return f.lines(t, "calls") }

func step(kind, op, urn, typ string) map[string]any {
	return map[string]any{kind: map[string]any{"metadata": map[string]any{"op": op, "urn": urn, "type": typ, "provider": "", "detailedDiff": nil}}}
}

func summary(changes map[string]int, preview bool) map[string]any {
	return map[string]any{"summaryEvent": map[string]any{"maybeCorrupt": false, "durationSeconds": 1, "resourceChanges": changes, "PolicyPacks": map[string]any{}, "isPreview": preview}}
}

func cancelEvent() map[string]any { return map[string]any{"cancelEvent": map[string]any{}} }

// recProgress records what a Progress receives; it may be called from the
// goroutine that reads the event log.
type recProgress struct {
	mu     sync.Mutex
	steps  []Step
	diags  []Diagnostic
	onStep func(Step)
}

func (p *recProgress) Step(s Step) {
	p.mu.Lock()
	p.steps = append(p.steps, s)
	p.mu.Unlock()
	if p.onStep != nil {
		p.onStep(s)
	}
}

func (p *recProgress) Diagnostic(d Diagnostic) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.diags = append(p.diags, d)
}

const scriptURN = "urn:pulumi:demo::zerocost::zerocost:patterns:EventDrivenAgent$cloudflare:index/workersScript:WorkersScript::sales-engine-demo"

// CLIRunner drives the pulumi CLI from the project folder and turns its
// engine events and outputs into zerocost's.
func TestCLIRunnerDrivesTheCLI(t *testing.T) {
	f := installFakePulumi(t)
	f.events(t, "preview",
		map[string]any{"preludeEvent": map[string]any{"config": map[string]any{}}},
		step("resourcePreEvent", "update", scriptURN, "cloudflare:index/workersScript:WorkersScript"),
		map[string]any{"diagnosticEvent": map[string]any{"message": "<{%fg 3%}>compatibility date is old<{%reset%}>\n", "color": "raw", "severity": "warning"}},
		summary(map[string]int{"update": 1, "same": 14}, true),
		cancelEvent())
	f.events(t, "up",
		step("resOutputsEvent", "same", "urn:pulumi:demo::zerocost::pulumi:pulumi:Stack::zerocost-demo", "pulumi:pulumi:Stack"),
		step("resOutputsEvent", "update", scriptURN, "cloudflare:index/workersScript:WorkersScript"),
		summary(map[string]int{"update": 1, "same": 14}, false),
		cancelEvent())
	f.put(t, "outputs.json", `{"sales-engine":{"pattern":"event-agent","script":"sales-engine-demo","url":"https://sales-engine-demo.zc.workers.dev",
		"r2_buckets":{"OUTPUTS":"sales-engine-demo-outputs"}},"note":"not a product"}`)
	f.put(t, "config-cloudflare:apiToken", `{"value":"cf-from-config","secret":true}`)
	t.Setenv("PULUMI_SKIP_UPDATE_CHECK", "false") // CLIRunner's value wins

	r, err := OpenCLI(tctx(t), "demo", f.project, map[string]string{"EXTRA": "1"})
	if err != nil {
		t.Fatal(err)
	}
	p := &recProgress{}
	ch, err := r.Preview(tctx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if ch["update"] != 1 || ch["same"] != 14 || ch.Changed() != 1 {
		t.Errorf("preview changes %v", ch)
	}
	if len(p.diags) != 1 || p.diags[0].Message != "compatibility date is old" || p.diags[0].Severity != "warning" {
		t.Errorf("diagnostics %+v", p.diags)
	}
	if len(p.steps) != 0 {
		t.Errorf("a resourcePreEvent made steps %+v", p.steps)
	}

	p = &recProgress{}
	ch, outs, err := r.Up(tctx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if ch["update"] != 1 || ch["same"] != 14 {
		t.Errorf("up changes %v (want the summary event's, not the history's)", ch)
	}
	if len(p.steps) != 2 || p.steps[1] != (Step{Op: "update", URN: scriptURN, Type: "cloudflare:index/workersScript:WorkersScript"}) {
		t.Errorf("steps %+v", p.steps)
	}
	if len(outs) != 1 || outs["sales-engine"].Script != "sales-engine-demo" || outs["sales-engine"].R2Buckets["OUTPUTS"] != "sales-engine-demo-outputs" {
		t.Errorf("outputs %+v", outs)
	}

	if v, ok, err := r.Config(tctx(t), CloudflareTokenKey); err != nil || !ok || v != "cf-from-config" {
		t.Errorf("config: %q %v %v", v, ok, err)
	}
	if v, ok, err := r.Config(tctx(t), "zerocost:authToken"); err != nil || ok || v != "" {
		t.Errorf("missing config: %q %v %v", v, ok, err)
	}
	if cur, err := r.Outputs(tctx(t)); err != nil || cur["sales-engine"].URL == "" {
		t.Errorf("outputs: %v %v", cur, err)
	}

	calls := f.calls(t)
	for _, c := range calls {
		if !strings.HasPrefix(c, f.project+": ") {
			t.Errorf("ran %q outside the project folder %s", c, f.project)
		}
		if !strings.HasSuffix(c, " --stack demo") {
			t.Errorf("%q does not name the stack", c)
		}
	}
	joined := strings.Join(calls, "\n")
	for _, want := range []string{": stack select --create --stack demo", ": preview --event-log ",
		": up --yes --skip-preview --message zerocost deploy --event-log ",
		": stack output --json --stack demo", ": config get cloudflare:apiToken --json --stack demo"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no call with %q in\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "history") {
		t.Errorf("read the history although the engine sent a summary:\n%s", joined)
	}
	for _, env := range f.lines(t, "env") {
		if want := "cwd=" + f.project + " PULUMI_DEBUG_COMMANDS=true PULUMI_SKIP_UPDATE_CHECK=true EXTRA=1"; env != want {
			t.Errorf("environment %q, want %q", env, want)
		}
	}
}

// Steps reach the Progress while the command still runs: the fake writes
// one event and waits until the test has seen it.
func TestCLIRunnerStreamsEventsWhileRunning(t *testing.T) {
	f := installFakePulumi(t)
	f.events(t, "up",
		step("resOutputsEvent", "create", scriptURN, "cloudflare:index/workersScript:WorkersScript"),
		step("resOutputsEvent", "same", "urn:pulumi:demo::zerocost::pulumi:pulumi:Stack::zerocost-demo", "pulumi:pulumi:Stack"),
		summary(map[string]int{"create": 1, "same": 1}, false),
		cancelEvent())
	f.put(t, "up.wait", "")
	f.put(t, "outputs.json", `{"sales-engine":{"pattern":"event-agent","script":"sales-engine-demo"}}`)
	r := openDemo(t, f.project)
	p := &recProgress{}
	p.onStep = func(s Step) {
		if s.Op == "create" {
			f.put(t, "go-on", "")
		}
	}
	ch, _, err := r.Up(tctx(t), p)
	if err != nil {
		t.Fatal(err) // exit status 4: the first step was not delivered while up ran
	}
	if len(p.steps) != 2 || ch["create"] != 1 {
		t.Errorf("steps %+v, changes %v", p.steps, ch)
	}
}

// Cancelling the context interrupts the command (one SIGINT, as Ctrl-C)
// rather than killing it, so pulumi can stop cleanly and release its lock.
func TestCLIRunnerInterruptsOnCancel(t *testing.T) {
	f := installFakePulumi(t)
	f.events(t, "up", step("resOutputsEvent", "create", scriptURN, "cloudflare:index/workersScript:WorkersScript"), cancelEvent())
	f.put(t, "up.wait", "")
	r := openDemo(t, f.project)
	ctx, cancel := context.WithCancel(tctx(t))
	defer cancel()
	p := &recProgress{onStep: func(Step) { cancel() }}
	_, _, err := r.Up(ctx, p)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v does not say the deploy was cancelled", err)
	}
	if got := f.lines(t, "signals"); !slices.Equal(got, []string{"interrupt"}) {
		t.Errorf("signals %v", got)
	}
}

// The CLI's stack lock comes back as a LockedError.
func TestCLIRunnerLockedStack(t *testing.T) {
	f := installFakePulumi(t)
	f.put(t, "up.stderr", "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n"+
		"  file:///srv/state/.pulumi/locks/organization/zerocost/demo/5c1d.json: created by ci@runner (pid 4242) at 2026-11-27T12:00:00Z\n")
	f.put(t, "refresh.stderr", "error: [409] Conflict: Another update is currently in progress.\n")
	r := openDemo(t, f.project)
	_, _, err := r.Up(tctx(t), &recProgress{})
	if !errors.Is(err, ErrStackLocked) {
		t.Fatalf("%v is not ErrStackLocked", err)
	}
	if !strings.Contains(err.Error(), "stack demo is locked by another update") {
		t.Errorf("message %q", err)
	}
	var oe *OpError
	if !errors.As(err, &oe) || !strings.Contains(oe.Stderr, "created by ci@runner") {
		t.Errorf("the lock's owner is lost: %#v", oe)
	}
	if _, err := r.Refresh(tctx(t), &recProgress{}); !errors.Is(err, ErrStackLocked) {
		t.Errorf("Pulumi Cloud's conflict: %v is not ErrStackLocked", err)
	}
}

// A failed command's error keeps the CLI's first error line and the end of
// its stderr, not its whole output.
func TestCLIRunnerCommandFails(t *testing.T) {
	f := installFakePulumi(t)
	var stderr strings.Builder
	for i := range 40 {
		stderr.WriteString("noise line ")
		stderr.WriteString(string(rune('a' + i%26)))
		stderr.WriteByte('\n')
	}
	stderr.WriteString("error: stack demo: zerocost:anthropicApiKey: missing secret\n")
	f.put(t, "preview.stderr", stderr.String())
	r := openDemo(t, f.project)
	_, err := r.Preview(tctx(t), &recProgress{})
	var oe *OpError
	if !errors.As(err, &oe) || errors.Is(err, ErrStackLocked) {
		t.Fatalf("error %T %v", err, err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "pulumi preview failed: failed to run preview: exit status 1") || !strings.HasSuffix(msg, "missing secret") {
		t.Errorf("message %q", msg)
	}
	if n := strings.Count(msg, "\n"); n != stderrTail {
		t.Errorf("message has %d lines of stderr, want %d", n, stderrTail)
	}
}

// An `up` the engine fails reports the failed step and the errors as
// events (the CLI prints them on stdout, not stderr) and fails.
func TestCLIRunnerUpFails(t *testing.T) {
	f := installFakePulumi(t)
	f.events(t, "up",
		map[string]any{"diagnosticEvent": map[string]any{"urn": scriptURN, "prefix": "error: ", "message": "400 Bad Request\n", "color": "never", "severity": "error"}},
		step("resOpFailedEvent", "update", scriptURN, "cloudflare:index/workersScript:WorkersScript"),
		map[string]any{"diagnosticEvent": map[string]any{"prefix": "error: ", "message": "update failed\n", "color": "never", "severity": "error"}},
		summary(map[string]int{"same": 2}, false),
		cancelEvent())
	f.put(t, "up.exit", "1")
	r := openDemo(t, f.project)
	p := &recProgress{}
	_, _, err := r.Up(tctx(t), p)
	var oe *OpError
	if !errors.As(err, &oe) || err.Error() != "pulumi up failed: failed to run update: exit status 1" {
		t.Fatalf("error %T %q", err, err)
	}
	if len(p.steps) != 1 || p.steps[0] != (Step{Op: "update", URN: scriptURN, Type: "cloudflare:index/workersScript:WorkersScript", Failed: true}) {
		t.Errorf("steps %+v", p.steps)
	}
	if len(p.diags) != 2 || p.diags[0] != (Diagnostic{Severity: "error", URN: scriptURN, Message: "400 Bad Request"}) || p.diags[1].Message != "update failed" {
		t.Errorf("diagnostics %+v", p.diags)
	}
	if slices.ContainsFunc(f.calls(t), func(c string) bool { return strings.Contains(c, "stack output") }) {
		t.Error("read the outputs of a failed up")
	}
}

// A stack that does not exist yet is created.
func TestCLIRunnerCreatesTheStack(t *testing.T) {
	f := installFakePulumi(t)
	f.put(t, "nostack", "")
	if _, err := OpenCLI(tctx(t), "demo", f.project, nil); err != nil {
		t.Fatal(err)
	}
	calls := f.calls(t)
	if !slices.Equal(calls, []string{f.project + ": stack select --create --stack demo"}) {
		t.Errorf("calls %v", calls)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "created")); err != nil {
		t.Error("the stack was not created")
	}
}

func TestCLIRunnerWithoutTheCLI(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := OpenCLI(tctx(t), "demo", t.TempDir(), nil)
	var oe *OpError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), `"pulumi": executable file not found`) {
		t.Errorf("err %v", err)
	}
}

// Before the first deploy the stack has no outputs; a refresh reports the
// history's counts when the engine sends no summary.
func TestCLIRunnerEmptyStack(t *testing.T) {
	f := installFakePulumi(t)
	r := openDemo(t, f.project)
	outs, err := r.Outputs(tctx(t))
	if err != nil || outs == nil || len(outs) != 0 {
		t.Errorf("outputs %v %v", outs, err)
	}
	ch, err := r.Refresh(tctx(t), &recProgress{})
	if err != nil || ch["update"] != 9 {
		t.Errorf("refresh %v %v", ch, err)
	}
	if calls := f.calls(t); !strings.HasSuffix(calls[len(calls)-1], ": stack history --json --page-size 1 --stack demo") {
		t.Errorf("calls %v", calls)
	}
}

// A preview without a summary event fails: counting no changes would skip
// `up` and call the stack unchanged.
func TestCLIRunnerPreviewWithoutSummary(t *testing.T) {
	f := installFakePulumi(t)
	f.events(t, "preview", step("resOutputsEvent", "update", scriptURN, "cloudflare:index/workersScript:WorkersScript"))
	r := openDemo(t, f.project)
	ch, err := r.Preview(tctx(t), &recProgress{})
	if err == nil || !strings.Contains(err.Error(), "failed to get preview summary") {
		t.Errorf("preview %v, %v", ch, err)
	}
}
