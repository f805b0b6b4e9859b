package deploy

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestJSONSinkWritesOneObjectPerLine(t *testing.T) {
	var b bytes.Buffer
	s := &JSONSink{W: &b, Now: func() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.FixedZone("CET", 3600)) }}
	yes := true
	code := 0
	s.Emit(Event{Type: EventPhase, Phase: PhasePreview, Status: StatusStarted})
	s.Emit(Event{Type: EventChanges, Phase: PhasePreview, Changes: Changes{"update": 2, "same": 5}})
	s.Emit(Event{Type: EventVerify, Phase: PhaseVerify, Passed: &yes, Report: map[string]any{"checks": 3}})
	s.Emit(Event{Type: EventVerify, Phase: PhaseVerify, Passed: &yes, Report: func() {}}) // does not marshal
	s.Emit(Event{Type: EventResult, Outcome: OutcomeDeployed, ExitCode: &code})
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	want := []string{
		`{"time":"2026-11-27T11:00:00Z","type":"phase","phase":"preview","status":"started"}`,
		`{"time":"2026-11-27T11:00:00Z","type":"changes","phase":"preview","changes":{"same":5,"update":2}}`,
		`{"time":"2026-11-27T11:00:00Z","type":"verify","phase":"verify","passed":true,"report":{"checks":3}}`,
		`{"time":"2026-11-27T11:00:00Z","type":"verify","phase":"verify","passed":true}`,
		`{"time":"2026-11-27T11:00:00Z","type":"result","outcome":"deployed","exit_code":0}`,
	}
	for i, l := range lines {
		if l != want[i] {
			t.Errorf("line %d\n got %s\nwant %s", i, l, want[i])
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("line %d is not JSON: %v", i, err)
		}
	}
}

func TestTextSink(t *testing.T) {
	yes, no := true, false
	zero, one := 0, 1
	for _, c := range []struct {
		e    Event
		want string
	}{
		{Event{Type: EventPhase, Phase: PhaseUp, Status: StatusStarted}, "==> up\n"},
		{Event{Type: EventPhase, Phase: PhaseOpen, Status: StatusStarted, Message: "stack demo"}, "==> open: stack demo\n"},
		{Event{Type: EventPhase, Phase: PhaseUp, Status: StatusDone}, ""},
		{Event{Type: EventPhase, Phase: PhaseRefresh, Status: StatusSkipped, Message: "why"}, "--- refresh skipped: why\n"},
		{Event{Type: EventPhase, Phase: PhaseUp, Status: StatusFailed, Error: "pulumi up failed: x\nmore"}, "    up failed: pulumi up failed: x\n"},
		{Event{Type: EventResource, Op: "update", URN: "urn:pulumi:demo::zerocost::zerocost:patterns:EdgeCacheLayer$cloudflare:index/workersScript:WorkersScript::ai-relay-demo", Done: 2, Total: 5, Status: StatusDone},
			"    [2/5] update WorkersScript ai-relay-demo\n"},
		{Event{Type: EventResource, Op: "create", URN: "urn:pulumi:demo::zerocost::cloudflare:index/queue:Queue::q", Status: StatusFailed}, "    failed create Queue q\n"},
		{Event{Type: EventDiagnostic, Severity: "error", Message: "  boom\n"}, "    error: boom\n"},
		{Event{Type: EventChanges, Changes: Changes{"same": 5, "delete": 1, "create": 2, "create-replacement": 1, "update": 1}},
			"    2 to create, 1 to update, 1 to delete, 1 to create-replacement, 5 unchanged\n"},
		{Event{Type: EventChanges, Changes: Changes{}}, "    0 unchanged\n"},
		{Event{Type: EventScript, Script: "w", Status: ScriptRecorded, Versions: []VersionShare{{"v1", 90}, {"v0", 10}}}, "    w: active v1 (90%), v0 (10%)\n"},
		{Event{Type: EventScript, Script: "w", Status: ScriptRolledBack, Versions: []VersionShare{{"v1", 100}}, Deployed: []VersionShare{{"v2", 100}}}, "    w: rolled back to v1 (100%) (was v2 (100%))\n"},
		{Event{Type: EventScript, Script: "w", Status: ScriptNew}, "    w: new Worker (did not exist before this deploy: nothing to roll back to)\n"},
		{Event{Type: EventCheck, Product: "p", Check: "health", Status: StatusPass, Done: 1, Total: 9}, "    [1/9] pass p health\n"},
		{Event{Type: EventCheck, Product: "p", Check: "job", Status: StatusFail, Done: 2, Total: 9, Message: "timeout\nx"}, "    [2/9] FAIL p job: timeout\n"},
		{Event{Type: EventVerify, Passed: &yes, Report: fakeReport{"12 checks passed"}}, "    verification passed: 12 checks passed\n"},
		{Event{Type: EventVerify, Passed: &no, Message: "could not run: x"}, "    verification failed: could not run: x\n"},
		{Event{Type: EventResult, ExitCode: &zero, Message: "deployed"}, "deployed\n"},
		{Event{Type: EventResult, ExitCode: &one, Message: "failed"}, ""}, // the CLI prints the error
	} {
		var b bytes.Buffer
		(&TextSink{W: &b}).Emit(c.e)
		if b.String() != c.want {
			t.Errorf("%+v\n got %q\nwant %q", c.e, b.String(), c.want)
		}
	}
}
