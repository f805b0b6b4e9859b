package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// topKeys lists a JSON object's keys in order.
func topKeys(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", line)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// The example in docs/ci.md is what the code prints: every line decodes
// into Event with no unknown field and has Event's fields in Event's order;
// the types, phases, statuses and outcomes it names exist.
func TestDocumentedEventsMatchTheCode(t *testing.T) {
	b, err := os.ReadFile("../../docs/ci.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	block := regexp.MustCompile("(?s)```json\n(.*?)```").FindStringSubmatch(doc)
	if block == nil {
		t.Fatal("docs/ci.md has no JSON example")
	}
	lines := strings.Split(strings.TrimSpace(block[1]), "\n")
	if len(lines) < 10 {
		t.Fatalf("%d example lines", len(lines))
	}
	for i, line := range lines {
		var e Event
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Errorf("line %d: %v\n%s", i+1, err, line)
			continue
		}
		again, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := topKeys(t, []byte(line)), topKeys(t, again); !slices.Equal(got, want) {
			t.Errorf("line %d: fields %v; the code prints %v", i+1, got, want)
		}
	}
	last := lines[len(lines)-1]
	if !strings.Contains(last, `"type":"result"`) {
		t.Errorf("the example does not end with the result: %s", last)
	}

	// Every name the code uses is documented.
	for _, name := range []string{
		EventPhase, EventResource, EventDiagnostic, EventChanges, EventCost, EventScript, EventCheck, EventVerify, EventResult,
		PhasePreflight, PhaseOpen, PhaseRefresh, PhasePreview, PhaseCost, PhaseConfirm, PhaseSnapshot, PhaseUp, PhaseVerify, PhaseRollback, PhaseReverify,
		StatusStarted, StatusDone, StatusFailed, StatusSkipped, StatusPass, StatusFail,
		ScriptRecorded, ScriptNew, ScriptNoVersion, ScriptUnchanged, ScriptRolledBack, ScriptFailed,
		OutcomeDeployed, OutcomeUnchanged, OutcomeDeclined, OutcomeFailed, OutcomeVerifyFailed, OutcomeRolledBack,
	} {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/ci.md does not name `%s`", name)
		}
	}
	for _, msg := range []string{RollbackMessage, EnvCloudflareToken, EnvPulumiToken, EnvPulumiBackend, EnvPassphrase} {
		if !strings.Contains(doc, msg) {
			t.Errorf("docs/ci.md does not mention %q", msg)
		}
	}
}
