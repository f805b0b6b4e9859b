package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/zerocost/zerocost/internal/contract"
)

// polled is what one GET /jobs/<id> says of a job.
type polled struct {
	state contract.JobState
	// note is the status to report as the last one seen (with the error of a
	// job queued again after a failed attempt).
	note string
	// pending: poll it again; neither pending nor err: done with a result.
	pending bool
	err     error
}

// readPoll reads one poll of a job by the contract's job states: queued or
// running is pending, done needs a non-empty result, failed and dead end the
// check with the job's error, a parked job (budget_exhausted) ends it with
// the reason, and a state the contract does not know ends it too. A job in
// submitted is pending only where batch mode is expected (batch).
func readPoll(id string, r *response, batch bool) polled {
	m := r.obj()
	status, _ := m["status"].(string)
	e, _ := m["error"].(string)
	p := polled{state: contract.JobState(status), note: status}
	switch p.state {
	case contract.JobDone:
		if empty(m["result"]) {
			p.err = fmt.Errorf("job %s is done with an empty result: %s", id, clip(string(r.body), 200))
		}
	case contract.JobQueued, contract.JobRunning:
		// A job queued again after a failed attempt says why.
		if e != "" {
			p.note = fmt.Sprintf("%s (last error: %s)", status, clip(e, 200))
		}
		p.pending = true
	case contract.JobSubmitted:
		p.pending = batch
		if !batch {
			p.err = fmt.Errorf("job %s is submitted to a Message Batch: the Worker runs in batch mode (MODEL_MODE), which this check does not expect", id)
		}
	case contract.JobFailed, contract.JobDead:
		p.err = fmt.Errorf("job %s %s: %s", id, status, e)
	case contract.JobBudgetExhausted:
		p.err = fmt.Errorf("job %s is parked (%s): the month's model budget is spent: %s; raise the budget or wait for the reset, then `zerocost jobs resume`", id, status, e)
	default:
		p.err = fmt.Errorf("job %s: unknown status %q: %s", id, status, clip(string(r.body), 200))
	}
	return p
}

// stillPending lists the jobs not done with the last status seen of each.
func stillPending(pending []string, last map[string]string) string {
	parts := make([]string, 0, len(pending))
	for _, id := range pending {
		parts = append(parts, fmt.Sprintf("%s still %s", id, last[id]))
	}
	return strings.Join(parts, ", ")
}

// pollRound polls each pending job once (readPoll) and returns the jobs to
// poll again: those still under way and those whose poll failed
// transiently. seen, when given, sees each answer readPoll did not fail (and
// may fail it). last holds the status seen of each job.
func (p *prober) pollRound(ctx context.Context, pending []string, last map[string]string, transient *int, batch bool, seen func(id string, r *response, got polled) error) ([]string, error) {
	var still []string
	for _, id := range pending {
		r, err := p.pollJob(ctx, id, last[id], transient)
		if err != nil {
			return nil, err
		}
		if r == nil { // a transient failure: poll it again
			still = append(still, id)
			continue
		}
		got := readPoll(id, r, batch)
		last[id] = got.note
		if got.err == nil && seen != nil {
			got.err = seen(id, r, got)
		}
		if got.err != nil {
			return nil, got.err
		}
		if got.pending {
			still = append(still, id)
		}
	}
	return still, nil
}
