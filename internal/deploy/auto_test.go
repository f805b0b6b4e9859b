package deploy

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakePulumi is a stand-in for the pulumi CLI, driven by files in
// $FAKE_PULUMI_DIR: it answers the commands the Automation API runs, writes
// <cmd>.events to the --event-log file (the CLI's engine events, JSON lines),
// fails a command with <cmd>.stderr, and logs its arguments and working
// folder. It reports version 3.200.0, so the Automation API reads events from
// the log file (newer CLIs stream them over gRPC).
const fakePulumi = `#!/bin/sh
d="$FAKE_PULUMI_DIR"
[ "$1" = "--non-interactive" ] && shift
echo "$PWD: $*" >> "$d/calls"
log=""; prev=""
for a in "$@"; do
  [ "$prev" = "--event-log" ] && log="$a"
  prev="$a"
done
case "$1" in
version) echo "v3.200.0"; exit 0 ;;
stack)
  case "$2" in
  select)
    if [ -f "$d/nostack" ] && [ ! -f "$d/created" ]; then echo "error: no stack named '$4' found" >&2; exit 255; fi
    exit 0 ;;
  init) touch "$d/created"; exit 0 ;;
  output) cat "$d/outputs.json"; exit 0 ;;
  history) cat "$d/history.json"; exit 0 ;;
  esac ;;
config)
  if [ -f "$d/config-$3" ]; then cat "$d/config-$3"; exit 0; fi
  echo "error: configuration key '$3' not found for stack 'demo'" >&2; exit 255 ;;
preview|up|refresh)
  [ -n "$log" ] && : >> "$log"
  if [ -f "$d/$1.stderr" ]; then cat "$d/$1.stderr" >&2; exit 255; fi
  if [ -n "$log" ] && [ -f "$d/$1.events" ]; then cat "$d/$1.events" >> "$log"; fi
  echo "fake pulumi $1: done"; exit 0 ;;
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
		e["sequence"], e["timestamp"] = i+1, 1764244800+i
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	f.put(t, cmd+".events", b.String())
}

func (f *fakeCLI) calls(t *testing.T) []string {
	b, err := os.ReadFile(filepath.Join(f.dir, "calls"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func step(kind, op, urn, typ string) map[string]any {
	return map[string]any{kind: map[string]any{"metadata": map[string]any{"op": op, "urn": urn, "type": typ, "provider": "", "detailedDiff": nil}}}
}

func summary(changes map[string]int, preview bool) map[string]any {
	return map[string]any{"summaryEvent": map[string]any{"maybeCorrupt": false, "durationSeconds": 1, "resourceChanges": changes, "PolicyPacks": map[string]any{}, "isPreview": preview}}
}

type recProgress struct {
	steps []Step
	diags []Diagnostic
}

func (p *recProgress) Step(s Step)             { p.steps = append(p.steps, s) }
func (p *recProgress) Diagnostic(d Diagnostic) { p.diags = append(p.diags, d) }

const scriptURN = "urn:pulumi:demo::zerocost::zerocost:patterns:EventDrivenAgent$cloudflare:index/workersScript:WorkersScript::sales-engine-demo"

// AutoRunner drives the pulumi CLI as the Automation API does, from the
// project folder, and turns its engine events and outputs into zerocost's.
func TestAutoRunnerDrivesTheCLI(t *testing.T) {
	f := installFakePulumi(t)
	f.events(t, "preview",
		map[string]any{"preludeEvent": map[string]any{"config": map[string]any{}}},
		step("resourcePreEvent", "update", scriptURN, "cloudflare:index/workersScript:WorkersScript"),
		map[string]any{"diagnosticEvent": map[string]any{"message": "<{%fg 3%}>compatibility date is old<{%reset%}>\n", "color": "raw", "severity": "warning"}},
		summary(map[string]int{"update": 1, "same": 14}, true))
	f.events(t, "up",
		step("resOutputsEvent", "same", "urn:pulumi:demo::zerocost::pulumi:pulumi:Stack::zerocost-demo", "pulumi:pulumi:Stack"),
		step("resOutputsEvent", "update", scriptURN, "cloudflare:index/workersScript:WorkersScript"),
		summary(map[string]int{"update": 1, "same": 14}, false))
	f.put(t, "outputs.json", `{"sales-engine":{"pattern":"event-agent","script":"sales-engine-demo","url":"https://sales-engine-demo.zc.workers.dev",
		"kv_namespace_ids":{"JOBS":"ns1"},"r2_buckets":{"OUTPUTS":"sales-engine-demo-outputs"}},"note":"not a product"}`)
	f.put(t, "config-cloudflare:apiToken", `{"value":"cf-from-config","secret":true}`)

	r, err := OpenAuto(tctx(t), "demo", f.project, map[string]string{"EXTRA": "1"})
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
	if len(outs) != 1 || outs["sales-engine"].Script != "sales-engine-demo" || outs["sales-engine"].KVNamespaceIDs["JOBS"] != "ns1" {
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
		if !strings.HasPrefix(c, f.project+": ") && !strings.HasSuffix(c, ": version") { // `pulumi version` runs where zerocost runs
			t.Errorf("ran %q outside the project folder %s", c, f.project)
		}
	}
	joined := strings.Join(calls, "\n")
	for _, want := range []string{": version", ": stack select --stack demo", ": preview --exec-kind=auto.local --event-log ",
		": up --yes --skip-preview --exec-kind=auto.local --event-log ", "--message=\"zerocost deploy\"",
		": stack output --json --show-secrets --stack demo", ": config get cloudflare:apiToken --json --stack demo"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no call with %q in\n%s", want, joined)
		}
	}
}

// The CLI's stack lock comes back as a LockedError.
func TestAutoRunnerLockedStack(t *testing.T) {
	f := installFakePulumi(t)
	f.put(t, "up.stderr", "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n"+
		"  file:///srv/state/.pulumi/locks/organization/zerocost/demo/5c1d.json: created by ci@runner (pid 4242) at 2026-11-27T12:00:00Z\n")
	r, err := OpenAuto(tctx(t), "demo", f.project, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r.Up(tctx(t), &recProgress{})
	if !errors.Is(err, ErrStackLocked) {
		t.Fatalf("%v is not ErrStackLocked", err)
	}
	if !strings.Contains(err.Error(), "stack demo is locked by another update") {
		t.Errorf("message %q", err)
	}
}

// A failed command's error keeps the CLI's first error line and the end of
// its stderr, not its whole output.
func TestAutoRunnerCommandFails(t *testing.T) {
	f := installFakePulumi(t)
	var stderr strings.Builder
	for i := range 40 {
		stderr.WriteString("noise line ")
		stderr.WriteString(string(rune('a' + i%26)))
		stderr.WriteByte('\n')
	}
	stderr.WriteString("error: stack demo: zerocost:anthropicApiKey: missing secret\n")
	f.put(t, "preview.stderr", stderr.String())
	r, err := OpenAuto(tctx(t), "demo", f.project, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Preview(tctx(t), &recProgress{})
	var oe *OpError
	if !errors.As(err, &oe) || errors.Is(err, ErrStackLocked) {
		t.Fatalf("error %T %v", err, err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "pulumi preview failed: failed to run preview: exit status 255") || !strings.HasSuffix(msg, "missing secret") {
		t.Errorf("message %q", msg)
	}
	if n := strings.Count(msg, "\n"); n != stderrTail {
		t.Errorf("message has %d lines of stderr, want %d", n, stderrTail)
	}
}

// A stack that does not exist yet is created (UpsertStackLocalSource).
func TestAutoRunnerCreatesTheStack(t *testing.T) {
	f := installFakePulumi(t)
	f.put(t, "nostack", "")
	if _, err := OpenAuto(tctx(t), "demo", f.project, nil); err != nil {
		t.Fatal(err)
	}
	calls := f.calls(t)
	if !slices.ContainsFunc(calls, func(c string) bool { return strings.HasSuffix(c, ": stack init demo") }) {
		t.Errorf("calls %v", calls)
	}
}

func TestAutoRunnerWithoutTheCLI(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := OpenAuto(tctx(t), "demo", t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "pulumi") {
		t.Errorf("err %v", err)
	}
}

// Before the first deploy the stack has no outputs; a refresh reports the
// history's counts when the engine sends no summary.
func TestAutoRunnerEmptyStack(t *testing.T) {
	f := installFakePulumi(t)
	r, err := OpenAuto(tctx(t), "demo", f.project, nil)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := r.Outputs(tctx(t))
	if err != nil || outs == nil || len(outs) != 0 {
		t.Errorf("outputs %v %v", outs, err)
	}
	ch, err := r.Refresh(tctx(t), &recProgress{})
	if err != nil || ch["update"] != 9 {
		t.Errorf("refresh %v %v", ch, err)
	}
}
