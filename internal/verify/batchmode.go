package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/zerocost/zerocost/internal/contract"
)

// CheckBatchMode is the check of an async pipeline in batch mode
// (settings.modelMode: batch) in place of the batch check.
const CheckBatchMode = "batch mode"

// batchMode: POST /jobs {"inputs": [...]}; every job must show `submitted`
// with a Message Batch id (the consumer turned the queue batch into a
// Message Batch), then reach done with a result as the cron trigger polls the
// batch. With Target.TriggerCron (a local run) the check runs the product's
// crons between polls instead of waiting for their schedule, so it ends in
// seconds against the stand-in; without it (a deployed stack, whose poller
// runs every few minutes and whose batches may take hours) it passes once
// every job is submitted.
func (p *prober) batchMode(ctx context.Context) (string, error) {
	ids, err := p.postBatch(ctx)
	if err != nil {
		return "", err
	}

	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout+p.o.RequestTimeout)
	defer cancel()
	trigger := p.o.Target.TriggerCron
	batchOf := map[string]string{} // job id -> the batch it was seen submitted in
	last := map[string]string{}
	pending := append([]string(nil), ids...)
	transient, triggers := 0, 0
	var doneUnseen []string // done before a poll saw them submitted
	attempts := p.o.attempts()
	seen := func(id string, r *response, got polled) error {
		switch {
		case got.state == contract.JobSubmitted:
			b, _ := r.obj()["batch_id"].(string)
			if b == "" {
				return fmt.Errorf("job %s is submitted without a batch_id: %s", id, clip(string(r.body), 200))
			}
			batchOf[id] = b
			last[id] = "submitted in " + b
		case !got.pending && batchOf[id] == "":
			doneUnseen = append(doneUnseen, id) // done: fine if another job of the batch was seen submitted
		}
		return nil
	}
	for attempt := 1; attempt <= attempts; attempt++ {
		var err error
		if pending, err = p.pollRound(ctx, pending, last, &transient, true, seen); err != nil {
			return "", err
		}
		if len(pending) == 0 {
			if len(batchOf) == 0 {
				return "", fmt.Errorf("jobs %s are done but none was seen submitted to a Message Batch: does the Worker run in batch mode (MODEL_MODE)?", strings.Join(doneUnseen, ", "))
			}
			return fmt.Sprintf("%d jobs submitted in %s, done after %d polls and %d cron runs", len(ids), batchList(batchOf), attempt, triggers), nil
		}
		allSubmitted := true
		for _, id := range pending {
			allSubmitted = allSubmitted && strings.HasPrefix(last[id], "submitted")
		}
		if trigger == nil && allSubmitted {
			return fmt.Sprintf("%d jobs submitted in %s (their results come when the cron trigger's poller finds the batch ended: minutes to hours, at most 24 h)", len(ids), batchList(batchOf)), nil
		}
		// The cron runs once every job waits in a batch: the consumer has
		// submitted the whole delivery, and each job was seen submitted.
		if trigger != nil && allSubmitted {
			if err := trigger(ctx, p.pr.Name); err != nil {
				return "", fmt.Errorf("running the cron trigger that polls the Message Batches: %w", err)
			}
			triggers++
		}
		if attempt < attempts {
			if err := p.o.Sleep(ctx, p.o.PollInterval); err != nil {
				break
			}
		}
	}
	why := "never submitted to a Message Batch: is the queue consumer running in batch mode?"
	if len(batchOf) > 0 {
		why = fmt.Sprintf("the cron trigger ran %d times and the batches did not end, or their results were not applied: see the Worker's log", triggers)
		if trigger == nil {
			why = "not all submitted to a Message Batch"
		}
	}
	return "", fmt.Errorf("not done within %s (%d polls): %s; %s", p.o.Timeout, attempts, stillPending(pending, last), why)
}

// batchList names the Message Batches the jobs went into.
func batchList(batchOf map[string]string) string {
	seen := map[string]bool{}
	var ids []string
	for _, b := range batchOf {
		if !seen[b] {
			seen[b] = true
			ids = append(ids, b)
		}
	}
	sort.Strings(ids)
	if len(ids) == 1 {
		return "Message Batch " + ids[0]
	}
	return fmt.Sprintf("%d Message Batches (%s)", len(ids), strings.Join(ids, ", "))
}
