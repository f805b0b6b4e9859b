package reliability

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
)

// writesAtLength is the rest of a product that writes long answers: no rate
// limit of its own in the way, room for 8,000 output tokens and the time
// to write them.
const writesAtLength = `      systemPrompt: Write at length.
      tiers: {standard: 1000000}
      settings:
        rateLimitPerMinute: 1000000
        maxOutputTokens: 8000
        modelTimeoutMs: 150000
`

const workflowStack = `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:products:
    - name: agent
      pattern: event-agent
` + writesAtLength

// workflowSpeed is the stand-in's speed in this suite: a Sonnet-class model
// (about 55-65 output tokens a second, third-party measurements).
const workflowSpeed = 60

// workflowJob is one job of the suite: its input (naming its scenario), the
// reply the stand-in writes, and the model answers scripted before it.
type workflowJob struct {
	input, text string
	faults      int // failed attempts before the reply (3: the job fails)
	id          string
}

// Event agents on the Workflow runner (the default), with answers of any
// length: each job's reply takes tokens/60 s to write, 30% of model attempts
// fail (500 or 529), every job is posted at once (full size: 300 jobs of
// 30-90 s, so more than 100 instances run at once, past Workers Free's
// concurrency, which Miniflare does not enforce), and job 0 writes 4,000
// tokens (a bounded 300 in `go test`). Every job ends done with its whole
// text, or failed with its reason after three attempts; none is lost; no job
// pays for more than one successful model call.
func TestAgentOnWorkflows(t *testing.T) {
	n := Size(12, 300)
	lo, hi := Size(60, 1800), Size(180, 5400) // tokens a job writes: 1-3 s bounded, 30-90 s full
	long := Size(300, 4000)
	cl := newCalls()
	dir := project(t, "wf", workflowStack, nil)
	env, logs := start(t, dir, "wf", devmodel.Options{TokensPerSecond: workflowSpeed, Observe: cl.observe})
	base := env.URL("agent")
	model := env.RT.Model()

	rng := rand.New(rand.NewPCG(19, uint64(n)))
	jobs := make([]workflowJob, n)
	for i := range jobs {
		tok := fmt.Sprintf("tok%032x", rng.Uint64())
		tokens := lo + rng.IntN(hi-lo+1)
		if i == 0 {
			tokens = long
		}
		j := workflowJob{input: fmt.Sprintf("workflow job %d %s", i, tok), text: strings.Repeat(fmt.Sprintf("w%02d ", i%100), tokens)}
		var steps []devmodel.Step
		for j.faults < 3 && rng.Float64() < 0.3 {
			steps = append(steps, devmodel.Step{Status: []int{500, 529}[rng.IntN(2)]})
			j.faults++
		}
		if i == 0 {
			steps, j.faults = nil, 0 // the long job's answer is the point
		}
		steps = append(steps, devmodel.Step{Text: &j.text})
		if err := model.Script(tok, steps); err != nil {
			t.Fatal(err)
		}
		jobs[i] = j
	}

	began := time.Now()
	errs := Parallel(deadline(t, 2*time.Minute), n, min(n, 150), func(i int) error {
		r, err := env.Do(http.MethodPost, base+"/jobs", jsonBody(t, map[string]string{"input": jobs[i].input}), "Content-Type", "application/json")
		if err != nil {
			return err
		}
		var v struct {
			JobID string `json:"job_id"`
		}
		if r.Status != http.StatusAccepted || json.Unmarshal(r.Body, &v) != nil || v.JobID == "" {
			return fmt.Errorf("POST /jobs: %d %s", r.Status, clip(r.Body))
		}
		jobs[i].id = v.JobID
		return nil
	})
	if len(errs) > 0 {
		t.Fatalf("%d POSTs failed, first: %v", len(errs), errs[0])
	}
	t.Logf("%d jobs posted in %s", n, time.Since(began).Round(time.Millisecond))

	views := settleWorkflowJobs(t, env, base, jobs, Size(3, 15))
	done, failed := 0, 0
	for i, v := range views {
		// Paid calls only: a 200 the Worker retried after is abandoned200 (calls.outcomes).
		j := jobs[i]
		seq, ab := cl.outcomes(j.input)
		switch v["status"] {
		case "done":
			done++
			if got, _ := v["result"].(string); got != j.text {
				t.Errorf("job %d (%s): result of %d characters, want the whole text of %d", i, j.id, len(got), len(j.text))
			}
			if count200(seq) != 1 || seq[len(seq)-1] != http.StatusOK || len(seq)-ab != j.faults+1 {
				t.Errorf("job %d is done after model calls %v: want %d failures, then one success", i, seq, j.faults)
			}
		case "failed":
			failed++
			e, _ := v["error"].(string)
			if j.faults+ab < 3 || count200(seq) != 0 || len(seq) != 3 || !strings.Contains(e, "3 attempts over") {
				t.Errorf("job %d failed (%q) after model calls %v; scripted faults %d", i, e, seq, j.faults)
			}
		default:
			t.Errorf("job %d (%s) ended %v", i, jobs[i].id, v)
		}
	}
	t.Logf("%d jobs settled in %s: %d done, %d failed (%d model calls); the long job wrote %d tokens",
		n, time.Since(began).Round(time.Second), done, failed, cl.count(), long)
	if strings.Contains(logs.String(), "internal error") {
		t.Error("a Worker logged an internal error")
	}
}

// settleWorkflowJobs polls every job until it reads done or failed, or fails
// the test after `minutes`.
func settleWorkflowJobs(t *testing.T, env *Env, base string, jobs []workflowJob, minutes int) []map[string]any {
	t.Helper()
	views := make([]map[string]any, len(jobs))
	pending := make([]int, len(jobs))
	for i := range pending {
		pending[i] = i
	}
	ctx := deadline(t, time.Duration(minutes)*time.Minute)
	for len(pending) > 0 {
		var mu sync.Mutex
		var still []int
		errs := Parallel(ctx, len(pending), 16, func(k int) error {
			i := pending[k]
			r, err := env.Do(http.MethodGet, base+"/jobs/"+jobs[i].id, nil)
			if err != nil {
				return err
			}
			if r.Status != http.StatusOK {
				return fmt.Errorf("GET /jobs/%s: %d %s", jobs[i].id, r.Status, clip(r.Body))
			}
			v := r.JSON()
			if v["status"] == "done" || v["status"] == "failed" {
				views[i] = v
				return nil
			}
			mu.Lock()
			still = append(still, i)
			mu.Unlock()
			return nil
		})
		if len(errs) > 0 {
			t.Fatalf("polling: %d errors, first: %v", len(errs), errs[0])
		}
		if len(still) > 0 && ctx.Err() != nil {
			t.Fatalf("%d jobs not settled after %d min, e.g. job %s", len(still), minutes, jobs[still[0]].id)
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(time.Second)
		}
	}
	return views
}

const longAnswerStack = `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:products:
    - name: pipe
      pattern: async-pipeline
` + writesAtLength + `        batchSize: 1
        batchTimeoutSeconds: 1
    - name: ask
      pattern: edge-cache
` + writesAtLength

// An answer of 4,000 tokens at 60 tokens a second (67 s; a bounded 300 in
// `go test`) ends done on the async pipeline (realtime: its consumer has 15
// minutes) and is answered synchronously by the edge cache (a request has no
// wall-time limit while its client stays connected), whole.
func TestLongAnswersOnPipelineAndCache(t *testing.T) {
	tokens := Size(300, 4000)
	dir := project(t, "long", longAnswerStack, nil)
	env, _ := start(t, dir, "long", devmodel.Options{TokensPerSecond: workflowSpeed})
	model := env.RT.Model()
	text := strings.Repeat("long ", tokens*4/5)
	script := func(input string) string {
		tok := fmt.Sprintf("tok%032x", rand.Uint64())
		if err := model.Script(tok, []devmodel.Step{{Text: &text}}); err != nil {
			t.Fatal(err)
		}
		return input + " " + tok
	}

	pipe := env.URL("pipe")
	r, err := env.Do(http.MethodPost, pipe+"/jobs", jsonBody(t, map[string]string{"input": script("pipeline")}), "Content-Type", "application/json")
	if err != nil || r.Status != http.StatusAccepted {
		t.Fatalf("POST /jobs: %v %v", err, r)
	}
	var job struct {
		JobID string `json:"job_id"`
	}
	if err := json.Unmarshal(r.Body, &job); err != nil {
		t.Fatal(err)
	}

	// Past the harness's 60 s (the answer takes 67 s at full size), with the dev keys.
	client := withKeys(&http.Client{Timeout: 3 * time.Minute}, env.RT, "")
	a, err := Do(client, http.MethodPost, env.URL("ask")+"/ask", jsonBody(t, map[string]string{"input": script("cache")}), "Content-Type", "application/json")
	if err != nil || a.Status != http.StatusOK {
		t.Fatalf("POST /ask: %v %v", err, a)
	}
	if got, _ := a.JSON()["answer"].(string); got != text {
		t.Errorf("edge cache: an answer of %d characters after %s, want the whole %d", len(got), a.Elapsed.Round(time.Millisecond), len(text))
	}

	views := settleWorkflowJobs(t, env, pipe, []workflowJob{{id: job.JobID}}, Size(2, 5))
	if views[0]["status"] != "done" || views[0]["result"] != text {
		t.Errorf("pipeline job: %v, want done with the whole text", views[0]["status"])
	}
	t.Logf("%d tokens at %d a second: the edge cache answered in %s", tokens, workflowSpeed, a.Elapsed.Round(time.Millisecond))
}
