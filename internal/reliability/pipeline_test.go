package reliability

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
)

// pipeStack is a stack of one async pipeline, pipe, with these settings
// (one YAML line each).
func pipeStack(settings ...string) string {
	return `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:products:
    - name: pipe
      pattern: async-pipeline
      tiers: {standard: 1000000}
      systemPrompt: Answer in one word.
      settings:
        ` + strings.Join(settings, "\n        ") + "\n"
}

// settleFast are the settings under which thousands of jobs, retries and
// dead letters settle in seconds: short batch waits and retry delays, 2
// retries, no rate limit of the product's own.
var settleFast = []string{"batchTimeoutSeconds: 1", "maxRetries: 2", "retryDelaySeconds: 1", "rateLimitPerMinute: 1000000", "modelTimeoutMs: 5000"}

// The pipeline's stack: batches of 100, settling fast.
var pipelineStack = pipeStack(append([]string{"batchSize: 100"}, settleFast...)...)

// pipeline names the stack's storage.
type pipeline struct {
	env                *Env
	bucket             string
	queue, deadLetters string
	base               string
}

func newPipeline(env *Env) *pipeline {
	pr := env.Plan.Product("pipe")
	p := &pipeline{env: env, base: env.URL("pipe")}
	p.bucket = pr.R2Buckets[0].Name
	for _, q := range pr.Queues {
		if q.DeadLetter {
			p.deadLetters = q.Name
		} else {
			p.queue = q.Name
		}
	}
	return p
}

// post submits inputs in POSTs of up to 100 and returns job id -> input.
func (p *pipeline) post(t *testing.T, inputs []string, workers int) map[string]string {
	t.Helper()
	return p.postIn(t, inputs, 100, workers)
}

// postIn submits inputs in POSTs of up to per (a POST's jobs travel packed,
// ten to a queue message) and returns job id -> input.
func (p *pipeline) postIn(t *testing.T, inputs []string, per, workers int) map[string]string {
	t.Helper()
	var chunks [][]string
	for i := 0; i < len(inputs); i += per {
		chunks = append(chunks, inputs[i:min(i+per, len(inputs))])
	}
	ids := make([][]string, len(chunks))
	errs := Parallel(deadline(t, 2*time.Minute), len(chunks), workers, func(i int) error {
		r, err := p.env.Do(http.MethodPost, p.base+"/jobs", jsonBody(t, map[string]any{"inputs": chunks[i]}), "Content-Type", "application/json")
		if err != nil {
			return err
		}
		var v struct {
			JobIDs []string `json:"job_ids"`
		}
		if r.Status != http.StatusAccepted || json.Unmarshal(r.Body, &v) != nil || len(v.JobIDs) != len(chunks[i]) {
			return fmt.Errorf("POST /jobs (%d inputs): %d %s", len(chunks[i]), r.Status, clip(r.Body))
		}
		ids[i] = v.JobIDs
		return nil
	})
	if len(errs) > 0 {
		t.Fatalf("posting jobs: %d errors, first: %v", len(errs), errs[0])
	}
	jobs := map[string]string{}
	for i, c := range chunks {
		for j, in := range c {
			jobs[ids[i][j]] = in
		}
	}
	if len(jobs) != len(inputs) {
		t.Fatalf("%d job ids for %d inputs: ids repeat", len(jobs), len(inputs))
	}
	return jobs
}

// settle waits until every job's record (jobs/<id>.json) in R2 says it ended
// (done, dead or failed) and returns the records.
func (p *pipeline) settle(t *testing.T, jobs map[string]string, limit time.Duration) map[string]JobRecord {
	t.Helper()
	return p.settleAt(t, jobs, limit, "done", "dead", "failed")
}

// settleAt waits until every job's record has one of the final statuses and
// returns the records; a record that names another job fails the test.
func (p *pipeline) settleAt(t *testing.T, jobs map[string]string, limit time.Duration, final ...string) map[string]JobRecord {
	t.Helper()
	ctx := deadline(t, limit)
	began := time.Now()
	ended := map[string]JobRecord{}
	for i := 0; ; i++ {
		var open []string
		for id := range jobs {
			if _, ok := ended[id]; !ok {
				open = append(open, id)
			}
		}
		recs, err := p.env.JobRecords(p.bucket, open)
		if err != nil {
			t.Fatal(err)
		}
		for id, rec := range recs {
			if rec.JobID != id {
				t.Fatalf("jobs/%s.json holds job %q", id, rec.JobID)
			}
			if slices.Contains(final, rec.Status) {
				ended[id] = rec
			}
		}
		if len(ended) == len(jobs) {
			t.Logf("%d jobs settled in %s", len(ended), time.Since(began).Round(time.Millisecond))
			return ended
		}
		if ctx.Err() != nil || i > 10000 {
			t.Fatalf("after %s only %d of %d jobs have reached %s in their records", time.Since(began).Round(time.Second), len(ended), len(jobs), strings.Join(final, ", "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// run posts n distinct jobs (inputs "<what> i of run <id>", per a POST, 4 POSTs at a time) and
// waits for them to settle: it returns the jobs (id -> input), their records
// and the time from the first post to the last record.
func (p *pipeline) run(t *testing.T, n, per int, what string) (map[string]string, map[string]JobRecord, time.Duration) {
	t.Helper()
	run := fmt.Sprintf("%x", time.Now().UnixNano())
	inputs := make([]string, n)
	for i := range inputs {
		inputs[i] = fmt.Sprintf("%s %d of run %s", what, i, run)
	}
	began := time.Now()
	jobs := p.postIn(t, inputs, per, 4)
	t.Logf("posted %d jobs in %s", n, time.Since(began).Round(time.Millisecond))
	recs := p.settle(t, jobs, time.Duration(Size(3, 10))*time.Minute)
	return jobs, recs, time.Since(began)
}

// noStrayRecords checks that every job record in the bucket is one of jobs'.
func (p *pipeline) noStrayRecords(t *testing.T, jobs map[string]string) {
	t.Helper()
	for id := range p.recordKeys(t) {
		if _, ok := jobs[id]; !ok {
			t.Errorf("jobs/%s.json belongs to no job", id)
		}
	}
}

// recordKeys lists the job records in the bucket, by job id.
func (p *pipeline) recordKeys(t *testing.T) map[string]bool {
	t.Helper()
	keys, err := p.env.R2Keys(p.bucket, "jobs/")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, k := range keys {
		id := strings.TrimSuffix(strings.TrimPrefix(k, "jobs/"), ".json")
		if out[id] {
			t.Fatalf("R2 key %s listed twice", k)
		}
		out[id] = true
	}
	return out
}

// expectObjects: the bucket holds one record per job under jobs/, a copy of
// each dead or parked one under held/ (lib/held.ts), and nothing else.
func (p *pipeline) expectObjects(t *testing.T, jobs map[string]string, recs map[string]JobRecord) {
	t.Helper()
	keys, err := p.env.R2Keys(p.bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for id := range jobs {
		want[JobKey(id)] = true
		if s := recs[id].Status; s == "dead" || s == "budget_exhausted" {
			want["held/"+id+".json"] = true
		}
	}
	var extra []string
	for _, k := range keys {
		if !want[k] {
			extra = append(extra, k)
		}
		delete(want, k)
	}
	if len(extra) > 0 || len(want) > 0 {
		t.Errorf("the bucket holds %d objects for %d jobs: %d not a job's record or held copy (e.g. %v), %d missing", len(keys), len(jobs), len(extra), extra[:min(3, len(extra))], len(want))
	}
}

// statuses reads every job through GET /jobs/:id until none is queued.
func (p *pipeline) statuses(t *testing.T, jobs map[string]string) map[string]map[string]any {
	t.Helper()
	ids := make([]string, 0, len(jobs))
	for id := range jobs {
		ids = append(ids, id)
	}
	out := make(map[string]map[string]any, len(ids))
	ctx := deadline(t, time.Minute)
	for round := 0; len(ids) > 0; round++ {
		views := make([]map[string]any, len(ids))
		errs := Parallel(ctx, len(ids), 16, func(i int) error {
			r, err := p.env.Do(http.MethodGet, p.base+"/jobs/"+ids[i], nil)
			if err != nil {
				return err
			}
			if r.Status != 200 {
				return fmt.Errorf("GET /jobs/%s: %d %s", ids[i], r.Status, clip(r.Body))
			}
			views[i] = r.JSON()
			return nil
		})
		if len(errs) > 0 {
			t.Fatalf("reading jobs: %d errors, first: %v", len(errs), errs[0])
		}
		var again []string
		for i, v := range views {
			if v["status"] == "queued" || v["status"] == "running" {
				again = append(again, ids[i])
				continue
			}
			out[ids[i]] = v
		}
		if len(again) > 0 && (round > 50 || ctx.Err() != nil) {
			t.Fatalf("%d jobs still queued, e.g. %s", len(again), again[0])
		}
		ids = again
		if len(ids) > 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	return out
}

// The async pipeline under a model failing 30% of calls (500, 529, and 429
// with retry-after), its jobs posted ten at a time (so they travel packed,
// ten to a queue message, and each ends on its own): every job ends done (its record in R2 holds the result) or
// dead (its record holds the input and last error), none missing, one record
// per job and nothing else; the only model calls beyond one per
// done job are retries of failed calls; a redelivered message whose result
// exists calls the model no more.
func TestPipelineUnderFailures(t *testing.T) {
	n := Size(300, 2000)
	cl := newCalls()
	dir := project(t, "rel", pipelineStack, nil)
	env, logs := start(t, dir, "rel", devmodel.Options{ErrorRate: 0.3, RateLimitShare: 0.5, RetryAfter: time.Second, Observe: cl.observe})
	p := newPipeline(env)

	jobs, recs, elapsed := p.run(t, n, 10, "job") // ten a POST: packed, one queue message each

	// Exactly one record per job, and nothing else in the bucket.
	p.noStrayRecords(t, jobs)
	p.expectObjects(t, jobs, recs)

	views := p.statuses(t, jobs)
	done, dead := 0, 0
	for id, input := range jobs {
		v := views[id]
		switch v["status"] {
		case "done":
			done++
			if recs[id].Status != "done" {
				t.Errorf("job %s reads done, its record %+v", id, recs[id])
			}
			if want := fmt.Sprintf("%q", input); !strings.Contains(fmt.Sprint(v["result"]), want) {
				t.Errorf("job %s: result %v is not the answer to %s", id, v["result"], want)
			}
		case "dead":
			dead++
			if recs[id].Status != "dead" {
				t.Errorf("job %s reads dead, its record %+v", id, recs[id])
			}
		default:
			t.Errorf("job %s ended %v", id, v)
		}
	}
	// A dead record says which input failed, and why.
	for id, rec := range recs {
		if rec.Status == "dead" && (rec.Input == nil || *rec.Input != jobs[id] || rec.Error == "" || rec.Attempts < 1) {
			t.Errorf("jobs/%s.json: dead without its input, error or attempts: %+v", id, rec)
		}
	}

	// Model calls: per input, failures then at most one success, which ends it.
	// So a done job was charged once, a dead job never, and every other call
	// was a retry of a failed one (a 200 that came after the Worker's attempt
	// had timed out, abandoned200, is one of those: see calls.outcomes).
	st := env.RT.Model().Stats()
	ok200, failed, abandoned := 0, 0, 0
	for id, input := range jobs {
		seq, ab := cl.outcomes(input)
		abandoned += ab
		n200 := 0
		for i, s := range seq {
			if s == 200 {
				n200++
				if i != len(seq)-1 {
					t.Errorf("job %s: a model call after its success: %v", id, seq)
				}
			} else {
				failed++
			}
		}
		ok200 += n200
		switch {
		case views[id]["status"] == "done" && n200 != 1:
			t.Errorf("job %s is done after %d successful model calls: %v", id, n200, seq)
		case views[id]["status"] == "dead" && n200 != 0:
			t.Errorf("job %s is dead after a successful model call: %v", id, seq)
		case len(seq) == 0:
			t.Errorf("job %s: no model call", id)
		}
	}
	if int64(ok200+abandoned) != st.ByStatus["200"] || int64(ok200+failed) != st.Total || cl.count() != int(st.Total) {
		t.Errorf("the stand-in counted %+v; per input: %d successes, %d failures of which %d abandoned 200s (%d observed)", st, ok200, failed, abandoned, cl.count())
	}
	t.Logf("%d jobs in %s: %d done, %d dead; %d model calls = %d successes + %d retried failures (%d x 429, %d x 500, %d x 529, %d abandoned 200s)",
		n, elapsed.Round(time.Millisecond), done, dead, st.Total, ok200, failed, st.ByStatus["429"], st.ByStatus["500"], st.ByStatus["529"], abandoned)

	// Dead letters, for certain: every call fails, every job ends dead.
	if err := env.RT.Model().SetFaults(1, 0); err != nil {
		t.Fatal(err)
	}
	run := fmt.Sprintf("%x", time.Now().UnixNano())
	doomedInputs := []string{"doomed 1 " + run, "doomed 2 " + run, "doomed 3 " + run}
	doomed := p.post(t, doomedInputs, 1)
	fails := p.settle(t, doomed, time.Minute)
	for id, v := range p.statuses(t, doomed) {
		if v["status"] != "dead" || fails[id].Status != "dead" || !strings.Contains(fmt.Sprint(v["error"]), "50") && !strings.Contains(fmt.Sprint(v["error"]), "529") {
			t.Errorf("doomed job %s: %v (failure record: %v)", id, v, fails[id])
		}
		if seq := cl.of(doomed[id]); len(seq) != 2*3 {
			t.Errorf("doomed job %s: %d model calls %v, want 6 (3 deliveries with max_retries 2, 2 attempts each)", id, len(seq), seq)
		}
	}
	if err := env.RT.Model().SetFaults(0, 0); err != nil {
		t.Fatal(err)
	}

	// Redelivery: the done jobs' messages come again, first on the dead-letter
	// queue, then on the queue. Their records say done: no model call, no
	// write, and they stay done.
	var again []any
	var againIDs []string
	for id, input := range jobs {
		if views[id]["status"] == "done" && len(again) < Size(100, 500) {
			again = append(again, map[string]string{"job_id": id, "input": input})
			againIDs = append(againIDs, id)
		}
	}
	before := env.RT.Model().Stats().Total
	toDLQ := min(len(again), 20)
	p.redeliver(t, p.deadLetters, again[:toDLQ], againIDs[:toDLQ])
	p.redeliver(t, p.queue, again, againIDs)
	// The one model call is the queue's sentinel (the DLQ's calls none).
	if after := env.RT.Model().Stats().Total; after != before+1 {
		t.Errorf("redelivering %d messages of done jobs made %d model calls besides the sentinel's", len(again)+toDLQ, after-before-1)
	}
	for id, v := range p.statuses(t, map[string]string{againIDs[0]: "", againIDs[len(againIDs)-1]: ""}) {
		if v["status"] != "done" {
			t.Errorf("redelivered job %s: %v", id, v)
		}
	}
	if strings.Contains(logs.String(), "internal error") {
		t.Error("a Worker logged an internal error")
	}
}

// redeliver puts the messages of done jobs on a queue, then a sentinel job
// (a well-formed id no client has, so its record is new) behind them, and
// waits until the sentinel's record is written: the messages before it were
// handled. A done job's redelivery writes nothing, so its record must be
// unchanged.
func (p *pipeline) redeliver(t *testing.T, queue string, bodies []any, ids []string) {
	t.Helper()
	before, err := p.env.JobRecords(p.bucket, ids)
	if err != nil {
		t.Fatal(err)
	}
	sentinel := fmt.Sprintf("%060x", time.Now().UnixNano())
	if err := p.env.Enqueue(queue, append(append([]any{}, bodies...), map[string]string{"job_id": sentinel, "input": "sentinel " + sentinel})); err != nil {
		t.Fatal(err)
	}
	ctx := deadline(t, time.Minute)
	for i := 0; ; i++ {
		recs, err := p.env.JobRecords(p.bucket, []string{sentinel})
		if err != nil {
			t.Fatal(err)
		}
		if r, ok := recs[sentinel]; ok && r.Status != "queued" && r.Status != "running" {
			break
		}
		if ctx.Err() != nil || i > 2000 {
			t.Fatalf("the sentinel behind %d redeliveries on %s was not handled in time", len(ids), queue)
		}
		time.Sleep(100 * time.Millisecond)
	}
	after, err := p.env.JobRecords(p.bucket, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if b, a := before[id], after[id]; a.Status != "done" || !a.UpdatedAt.Equal(b.UpdatedAt) {
			t.Errorf("job %s redelivered on %s: record %+v, before %+v", id, queue, a, b)
		}
	}
}
