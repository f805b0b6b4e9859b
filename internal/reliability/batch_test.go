package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
)

// The pipeline in batch mode (settings.modelMode: batch): the consumer submits
// each delivery as one Message Batch, the poller (the Worker's cron trigger,
// run here on demand through the runtime's scheduled route) applies the
// results. maxRetries 2: a job's batch request is submitted at most 3 times.
var batchStack = pipeStack(append([]string{"modelMode: batch", "batchSize: 100"}, settleFast...)...)

// batchCalls records the stand-in's batch requests per custom_id (the job
// id) as their batches end (devmodel.Options.Observe).
type batchCalls struct {
	mu    sync.Mutex
	byJob map[string][]devmodel.CallInfo
	other int // calls of POST /v1/messages (none in batch mode)
}

func (c *batchCalls) observe(ci devmodel.CallInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ci.BatchID == "" {
		c.other++
		return
	}
	c.byJob[ci.CustomID] = append(c.byJob[ci.CustomID], ci)
}

func (c *batchCalls) of(id string) []devmodel.CallInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]devmodel.CallInfo(nil), c.byJob[id]...)
}

// poller runs the product's scheduled handler (the batch poller) every
// period until stop; it returns how many runs it made. A failed run fails
// the test.
func poller(t *testing.T, env *Env, period time.Duration) (stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	go func() {
		runs := 0
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				done <- runs
				return
			case <-tick.C:
			}
			res, err := env.RT.TriggerCron(ctx, "pipe", "")
			if ctx.Err() != nil {
				continue
			}
			runs++
			if err != nil {
				t.Errorf("poller run %d: %v", runs, err)
				continue
			}
			for _, r := range res {
				if !r.OK() {
					t.Errorf("poller run %d: %s", runs, r)
				}
			}
		}
	}()
	return func() int { cancel(); return <-done }
}

// batchRecord is what a batch-mode job record holds beyond JobRecord.
type batchRecord struct {
	Status  string `json:"status"`
	BatchID string `json:"batch_id"`
	Usage   *struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// The async pipeline in batch mode with 30% of batch requests errored and
// 1% never finishing (their batch expires): every job ends done (its result
// the answer to its input) or dead (its input and error kept), none missing,
// one record per job and no batch record left; per job at most maxRetries+1
// submissions, exactly one succeeded request for a done job (the one its
// record names) and none for a dead one: nothing paid twice; the tokens
// billed at the batch price are exactly the done records' usage.
func TestBatchPipelineUnderFailures(t *testing.T) {
	n := Size(300, 2000)
	const maxRetries = 2
	cl := &batchCalls{byJob: map[string][]devmodel.CallInfo{}}
	dir := project(t, "relb", batchStack, nil)
	standIn := devmodel.Options{
		Observe: cl.observe,
		Batch: devmodel.BatchOptions{
			Delay:  300 * time.Millisecond,
			Expiry: 2 * time.Second,
			Errors: devmodel.Selector{Rate: 0.3},
			Expire: devmodel.Selector{Rate: 0.01},
		},
	}
	env, logs := start(t, dir, "relb", standIn)
	p := newPipeline(env)
	stopPoller := poller(t, env, 250*time.Millisecond)

	jobs, recs, elapsed := p.run(t, n, 100, "batch job")
	runs := stopPoller()

	// One record per job (and a held copy of each dead one), and nothing
	// else: every batch record was applied and deleted.
	p.noStrayRecords(t, jobs)
	p.expectObjects(t, jobs, recs)

	ids := make([]string, 0, len(jobs))
	for id := range jobs {
		ids = append(ids, id)
	}
	raw := map[string]batchRecord{}
	for i := 0; i < len(ids); i += 500 {
		chunk := ids[i:min(i+500, len(ids))]
		ks := make([]string, len(chunk))
		for j, id := range chunk {
			ks[j] = JobKey(id)
		}
		objs, err := env.R2GetMany(p.bucket, ks)
		if err != nil {
			t.Fatal(err)
		}
		for k, data := range objs {
			var r batchRecord
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			raw[strings.TrimSuffix(strings.TrimPrefix(k, "jobs/"), ".json")] = r
		}
	}

	views := p.statuses(t, jobs)
	done, dead, submissions, resubmitted := 0, 0, 0, 0
	var inTok, outTok int64
	var latencies []time.Duration
	for id, input := range jobs {
		v, rec, r := views[id], recs[id], raw[id]
		seq := cl.of(id)
		submissions += len(seq)
		if len(seq) > 1 {
			resubmitted++
		}
		succeeded := 0
		var okBatch string
		for i, ci := range seq {
			if ci.Result == "succeeded" {
				succeeded++
				okBatch = ci.BatchID
				if i != len(seq)-1 {
					t.Errorf("job %s: submitted again after its request succeeded: %+v", id, seq)
				}
			}
		}
		if len(seq) > maxRetries+1 {
			t.Errorf("job %s: %d submissions, more than maxRetries+1 = %d", id, len(seq), maxRetries+1)
		}
		switch v["status"] {
		case "done":
			done++
			if rec.Status != "done" {
				t.Errorf("job %s reads done, its record %+v", id, rec)
			}
			if want := fmt.Sprintf("%q", input); !strings.Contains(fmt.Sprint(v["result"]), want) {
				t.Errorf("job %s: result %v is not the answer to %s", id, v["result"], want)
			}
			if succeeded != 1 || r.BatchID != okBatch {
				t.Errorf("job %s is done from batch %s after %d succeeded requests: %+v", id, r.BatchID, succeeded, seq)
			}
			if r.Usage == nil {
				t.Errorf("job %s: done without usage", id)
			} else {
				inTok += int64(r.Usage.InputTokens)
				outTok += int64(r.Usage.OutputTokens)
			}
			latencies = append(latencies, r.UpdatedAt.Sub(r.CreatedAt))
		case "dead":
			dead++
			if rec.Status != "dead" || rec.Input == nil || *rec.Input != input || rec.Error == "" || rec.Attempts != maxRetries+1 {
				t.Errorf("job %s: dead without its input, error or %d attempts: %+v", id, maxRetries+1, rec)
			}
			if succeeded != 0 || len(seq) != maxRetries+1 {
				t.Errorf("job %s is dead after %d submissions, %d succeeded: %+v", id, len(seq), succeeded, seq)
			}
		default:
			t.Errorf("job %s ended %v", id, v)
		}
	}

	st := env.RT.Model().Stats()
	if cl.other != 0 || st.Total != 0 {
		t.Errorf("batch mode called POST /v1/messages %d times (stand-in: %d)", cl.other, st.Total)
	}
	if st.Batch.Succeeded != int64(done) || st.Batch.InputTokens != inTok || st.Batch.OutputTokens != outTok {
		t.Errorf("billed at the batch price: %d succeeded requests, %d input and %d output tokens; the done records: %d jobs, %d and %d",
			st.Batch.Succeeded, st.Batch.InputTokens, st.Batch.OutputTokens, done, inTok, outTok)
	}
	if int64(submissions) != st.Batch.Requests {
		t.Errorf("%d batch requests were created, %d observed at their batches' ends", st.Batch.Requests, submissions)
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	t.Logf("%d jobs in %s: %d done, %d dead; %d batches, %d requests (%d succeeded, %d errored, %d expired, %d canceled), %d jobs submitted more than once; %d poller runs; batch API calls %v",
		n, elapsed.Round(time.Millisecond), done, dead, st.Batch.Created, st.Batch.Requests, st.Batch.Succeeded, st.Batch.Errored, st.Batch.Expired, st.Batch.Canceled, resubmitted, runs, st.Batch.Calls)
	if done > 0 {
		in, out := float64(inTok)/float64(done), float64(outTok)/float64(done)
		// claude-haiku-4-5: $1 / $5 per million input / output tokens; batch 50%.
		rt := (in*1 + out*5) / 1e6
		t.Logf("per done job: %.1f input + %.1f output tokens = $%.8f realtime, $%.8f batch; latency p50 %s p95 %s max %s (stand-in delay %s, expiry %s, poll every 250ms)",
			in, out, rt, rt/2, Percentile(latencies, 50).Round(time.Millisecond), Percentile(latencies, 95).Round(time.Millisecond),
			latencies[len(latencies)-1].Round(time.Millisecond), standIn.Batch.Delay, standIn.Batch.Expiry)
	}
	if strings.Contains(logs.String(), "internal error") {
		t.Error("a Worker logged an internal error")
	}
}

// End-to-end latency in batch mode against the stand-in's processing delay
// and the poll interval: jobs posted one at a time end done no sooner than
// the delay, and no later than the queue's batch wait + the delay + one poll
// interval + the work (a margin for this shared machine). The numbers are
// logged for docs/BENCHMARKS.md.
func TestBatchLatency(t *testing.T) {
	const (
		delay     = 2 * time.Second
		interval  = time.Second
		batchWait = time.Second // batchTimeoutSeconds
		jobs      = 12
	)
	dir := project(t, "lat", batchStack, nil)
	env, _ := start(t, dir, "lat", devmodel.Options{Batch: devmodel.BatchOptions{Delay: delay}})
	p := newPipeline(env)
	stopPoller := poller(t, env, interval)
	defer stopPoller()

	lat := map[string]time.Duration{}
	posted := map[string]time.Time{}
	all := map[string]string{}
	for i := 0; i < jobs; i++ {
		in := fmt.Sprintf("latency %d %x", i, time.Now().UnixNano())
		at := time.Now()
		for id, input := range p.post(t, []string{in}, 1) {
			posted[id], all[id] = at, input
		}
		time.Sleep(interval / 3) // spread the posts over the poll phase
	}
	ctx := deadline(t, time.Minute)
	for len(lat) < len(all) {
		if ctx.Err() != nil {
			t.Fatalf("%d of %d jobs done in time", len(lat), len(all))
		}
		for id := range all {
			if _, ok := lat[id]; ok {
				continue
			}
			r, err := env.Do("GET", p.base+"/jobs/"+id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if v := r.JSON(); v["status"] == "done" {
				lat[id] = time.Since(posted[id])
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ds []time.Duration
	for _, d := range lat {
		ds = append(ds, d)
		if d < delay || d > batchWait+delay+interval+5*time.Second {
			t.Errorf("a job took %s: outside [%s, %s + margin]", d, delay, batchWait+delay+interval)
		}
	}
	t.Logf("batch mode, %d jobs: latency min %s p50 %s max %s; stand-in delay %s, poll every %s, queue batch wait <= %s (GET polled every 50 ms)",
		len(ds), Percentile(ds, 0).Round(time.Millisecond), Percentile(ds, 50).Round(time.Millisecond), Percentile(ds, 100).Round(time.Millisecond), delay, interval, batchWait)
}
