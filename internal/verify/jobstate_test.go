package verify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/contract"
)

func pollOf(t *testing.T, m map[string]any) *response {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: 200, body: b}
}

// Every state of the contract is one verify knows: a state added to
// internal/contract (and so to the Workers' JobState) without a case here
// fails this test.
func TestReadPollKnowsEveryContractState(t *testing.T) {
	for _, d := range contract.JobStates {
		for _, batch := range []bool{false, true} {
			got := readPoll("j1", pollOf(t, map[string]any{"job_id": "j1", "status": string(d.State), "result": "ok", "error": "why"}), batch)
			if got.err != nil && strings.Contains(got.err.Error(), "unknown status") {
				t.Errorf("state %q (batch %v): %v", d.State, batch, got.err)
			}
			if got.state != d.State {
				t.Errorf("state %q read as %q", d.State, got.state)
			}
			if d.Terminal && got.pending {
				t.Errorf("terminal state %q is polled again", d.State)
			}
		}
	}
	if got := readPoll("j1", pollOf(t, map[string]any{"status": "paused"}), false); got.err == nil || !strings.Contains(got.err.Error(), `unknown status "paused"`) {
		t.Errorf("a state outside the contract: %v", got.err)
	}
}

// A parked job ends the check with the reason the Worker gave, not "unknown status".
func TestReadPollReportsAParkedJob(t *testing.T) {
	reason := "product p's monthly model budget ($5) is spent ($5.01 this month); it resets at 2027-01-01T00:00:00Z"
	got := readPoll("j1", pollOf(t, map[string]any{"job_id": "j1", "status": string(contract.JobBudgetExhausted), "error": reason}), false)
	if got.err == nil {
		t.Fatal("a parked job passes")
	}
	for _, want := range []string{"parked", "budget", reason, "zerocost jobs resume"} {
		if !strings.Contains(got.err.Error(), want) {
			t.Errorf("error %q lacks %q", got.err, want)
		}
	}
}

func TestReadPollStates(t *testing.T) {
	cases := []struct {
		m       map[string]any
		batch   bool
		pending bool
		err     string
		note    string
	}{
		{m: map[string]any{"status": "queued"}, pending: true, note: "queued"},
		{m: map[string]any{"status": "queued", "error": "model API answered 529"}, pending: true, note: "queued (last error: model API answered 529)"},
		{m: map[string]any{"status": "done", "result": "hi"}, note: "done"},
		{m: map[string]any{"status": "done", "result": ""}, err: "empty result"},
		{m: map[string]any{"status": "dead", "error": "retries exhausted"}, err: "job j1 dead: retries exhausted"},
		{m: map[string]any{"status": "submitted", "batch_id": "b"}, batch: true, pending: true, note: "submitted"},
		{m: map[string]any{"status": "submitted", "batch_id": "b"}, err: "batch mode"},
	}
	for _, c := range cases {
		got := readPoll("j1", pollOf(t, c.m), c.batch)
		if c.err != "" {
			if got.err == nil || !strings.Contains(got.err.Error(), c.err) {
				t.Errorf("%v: error %v, want %q", c.m, got.err, c.err)
			}
			continue
		}
		if got.err != nil || got.pending != c.pending || got.note != c.note {
			t.Errorf("%v: got %+v, want pending %v note %q", c.m, got, c.pending, c.note)
		}
	}
}
