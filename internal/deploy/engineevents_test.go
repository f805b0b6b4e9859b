package deploy

import (
	"bytes"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

const (
	kvURN  = "urn:pulumi:demo::zerocost::zerocost:patterns:EventDrivenAgent$cloudflare:index/workersKvNamespace:WorkersKvNamespace::sales-engine-demo-jobs"
	kvType = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"
)

// readEngineLog decodes a whole event log.
func readEngineLog(r io.Reader, p Progress) (*engineLog, error) {
	l := &engineLog{}
	b, err := io.ReadAll(r)
	for line := range bytes.Lines(b) {
		l.add(line, p)
	}
	return l, err
}

func readLog(t *testing.T, name string) (*engineLog, *recProgress) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "pulumi-events", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &recProgress{}
	l, err := readEngineLog(f, p)
	if err != nil {
		t.Fatal(err)
	}
	if l.Skipped != 0 || !l.Ended {
		t.Errorf("%s: %d lines skipped, ended %v", name, l.Skipped, l.Ended)
	}
	return l, p
}

func ops(steps []Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Op+" "+s.Type)
	}
	return out
}

// Real event logs of the Pulumi CLI v3.274.1 (testdata/pulumi-events/README.md)
// decode into the steps, diagnostics and counts deploy reports.
func TestEngineEventsOfARealUp(t *testing.T) {
	l, p := readLog(t, "up-create.jsonl")
	if l.Events != 13 || !maps.Equal(l.Summary, Changes{"create": 3}) {
		t.Errorf("%d events, summary %v", l.Events, l.Summary)
	}
	// resourcePreEvent is not a step; resOutputsEvent is, in the order the
	// engine finished them.
	want := []string{
		"create pulumi:providers:cloudflare",
		"create " + kvType,
		"create zerocost:patterns:EventDrivenAgent",
		"create pulumi:pulumi:Stack",
	}
	if got := ops(p.steps); !slices.Equal(got, want) {
		t.Errorf("steps %q, want %q", got, want)
	}
	if p.steps[1].URN != kvURN || p.steps[1].Failed {
		t.Errorf("step %+v", p.steps[1])
	}
	wantDiags := []Diagnostic{
		{Severity: "warning", Message: "compatibility date 2026-06-01 is old"},
		{Severity: "warning", Message: "using pulumi-resource-cloudflare from $PATH at /tmp/pt/bin/pulumi-resource-cloudflare"},
	}
	if !slices.Equal(p.diags, wantDiags) {
		t.Errorf("diagnostics %+v", p.diags)
	}
}

func TestEngineEventsOfARealPreview(t *testing.T) {
	l, p := readLog(t, "preview-update.jsonl")
	if !maps.Equal(l.Summary, Changes{"same": 2, "update": 1}) || l.Summary.Changed() != 1 {
		t.Errorf("summary %v", l.Summary)
	}
	if got := ops(p.steps); len(got) != 6 || got[3] != "update "+kvType {
		t.Errorf("steps %q", got)
	}
	if len(p.diags) != 3 {
		t.Errorf("diagnostics %+v", p.diags)
	}
}

func TestEngineEventsOfARealRefresh(t *testing.T) {
	l, p := readLog(t, "refresh.jsonl")
	if !maps.Equal(l.Summary, Changes{"same": 3}) || l.Summary.Changed() != 0 {
		t.Errorf("summary %v", l.Summary)
	}
	if len(p.steps) != 4 {
		t.Errorf("steps %q", ops(p.steps))
	}
}

// A failed update: the step's resOpFailedEvent, the provider's errors with
// the resource's URN and the engine's own without, a summary of what did
// not fail.
func TestEngineEventsOfARealFailedUp(t *testing.T) {
	l, p := readLog(t, "up-fail.jsonl")
	if !maps.Equal(l.Summary, Changes{"same": 2}) {
		t.Errorf("summary %v", l.Summary)
	}
	var failed []Step
	for _, s := range p.steps {
		if s.Failed {
			failed = append(failed, s)
		}
	}
	if len(failed) != 1 || failed[0] != (Step{Op: "update", URN: kvURN, Type: kvType, Failed: true}) {
		t.Errorf("failed steps %+v", failed)
	}
	var errs []Diagnostic
	for _, d := range p.diags {
		if d.Severity == "error" {
			errs = append(errs, d)
		}
	}
	if len(errs) != 4 || errs[0].URN != kvURN || errs[2].URN != "" || errs[2].Message != "update failed" {
		t.Errorf("errors %+v", errs)
	}
	const refused = `[ERROR] PUT "http://127.0.0.1:18787/client/v4/accounts/0123456789abcdef0123456789abcdef/storage/kv/namespaces/5f3c6554e26e44ff93e7fcdc8d39965a": 400 Bad Request {"success": false, "errors": [{"code": 10000, "message": "title refused by the fake"}], "messages": [], "result": null}: failed to make http request`
	if errs[0].Message != refused {
		t.Errorf("message %q", errs[0].Message)
	}
}

// A preview that fails before the engine starts logs only the cancelEvent.
func TestEngineEventsOfARealFailedPreview(t *testing.T) {
	l, p := readLog(t, "preview-no-program.jsonl")
	if l.Events != 1 || l.Summary != nil || len(p.steps)+len(p.diags) != 0 {
		t.Errorf("log %+v, progress %+v", l, p)
	}
}

// Lines that are not events are counted and skipped.
func TestEngineEventsSkipsNoise(t *testing.T) {
	l := &engineLog{}
	p := &recProgress{}
	for _, line := range []string{"", "not json", `{"sequence":1,"stdoutEvent":{"message":"hi","color":"never"}}`, `{"sequence":2,"errorEvent":{"error":"x"}}`} {
		l.add([]byte(line), p)
	}
	if l.Events != 2 || l.Skipped != 1 || len(p.steps)+len(p.diags) != 0 {
		t.Errorf("log %+v", l)
	}
}

// The tail reads lines as the file grows: the file may not exist yet, a
// line is forwarded once its newline is written, and what is left when the
// command has ended (a last line without newline) is read too.
func TestTailEngineLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	stepLine := func(op string) string {
		return `{"sequence":1,"resOutputsEvent":{"metadata":{"op":"` + op + `","urn":"` + kvURN + `","type":"` + kvType + `"}}}`
	}
	got := make(chan Step, 10)
	p := &recProgress{onStep: func(s Step) { got <- s }}
	exited := make(chan struct{})
	tailed := startTail(path, p, exited)
	wait := func(op string) {
		t.Helper()
		select {
		case s := <-got:
			if s.Op != op {
				t.Fatalf("step %+v, want op %s", s, op)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s step within 10s", op)
		}
	}

	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := stepLine("create")
	if _, err := f.WriteString(line[:20]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line[20:] + "\n" + stepLine("update")[:30]); err != nil {
		t.Fatal(err)
	}
	wait("create")
	if _, err := f.WriteString(stepLine("update")[30:] + "\n" + stepLine("delete")); err != nil {
		t.Fatal(err)
	}
	wait("update")
	close(exited)
	l, err := tailed()
	if err != nil {
		t.Fatal(err)
	}
	wait("delete")
	if l.Events != 3 || l.Skipped != 0 {
		t.Errorf("%d events, %d skipped", l.Events, l.Skipped)
	}
}

// A command that never creates its log (it failed first) leaves an empty one.
func TestTailEngineLogWithoutAFile(t *testing.T) {
	exited := make(chan struct{})
	close(exited)
	l, err := tailEngineLog(filepath.Join(t.TempDir(), "never"), &recProgress{}, exited)
	if err != nil || l.Events != 0 || l.Summary != nil {
		t.Errorf("%+v %v", l, err)
	}
}
