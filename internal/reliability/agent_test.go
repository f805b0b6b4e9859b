package reliability

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
)

const agentStack = `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:products:
    - name: agent
      pattern: event-agent
      tiers: {standard: 1000000}
      systemPrompt: Answer in one line.
      settings:
        rateLimitPerMinute: 1000000
        runner: waitUntil
`

// modelLatency is the stand-in's delay in the agent suite: a POST that waited
// for the model could not answer faster.
const modelLatency = 500 * time.Millisecond

// The event-driven agent under load, on the waitUntil runner (workflow_test.go
// has the Workflow runner's suite): every POST answers 202 without waiting for
// the model; every job ends done or failed, none stays queued; a done job was
// charged once.
func TestAgentUnderLoad(t *testing.T) {
	n, workers := Size(200, 1000), 16
	cl := newCalls()
	dir := project(t, "rel", agentStack, nil)
	env, logs := start(t, dir, "rel", devmodel.Options{Latency: modelLatency, ErrorRate: 0.3, RateLimitShare: 0.3, Observe: cl.observe})
	base := env.URL("agent")
	run := fmt.Sprintf("%x", time.Now().UnixNano())

	ids := make([]string, n)
	inputs := make([]string, n)
	lat := make([]time.Duration, n)
	var answeredFirst atomic.Int64
	began := time.Now()
	errs := Parallel(deadline(t, 3*time.Minute), n, workers, func(i int) error {
		inputs[i] = fmt.Sprintf("agent job %d of run %s", i, run)
		r, err := env.Do(http.MethodPost, base+"/jobs", jsonBody(t, map[string]string{"input": inputs[i]}), "Content-Type", "application/json")
		if err != nil {
			return err
		}
		var v struct {
			JobID  string `json:"job_id"`
			Status string `json:"status"`
		}
		if r.Status != http.StatusAccepted || json.Unmarshal(r.Body, &v) != nil || v.JobID == "" || v.Status != "queued" {
			return fmt.Errorf("POST /jobs: %d %s", r.Status, clip(r.Body))
		}
		ids[i], lat[i] = v.JobID, r.Elapsed
		// The 202 came before the model answered this job: the model call
		// starts in waitUntil, and takes modelLatency.
		for _, s := range cl.of(inputs[i]) {
			if s == 200 || s >= 500 || s == 429 {
				answeredFirst.Add(1)
				break
			}
		}
		return nil
	})
	posted := time.Since(began)
	if len(errs) > 0 {
		t.Fatalf("%d POSTs failed, first: %v", len(errs), errs[0])
	}
	p50, p99, worst := Percentile(lat, 50), Percentile(lat, 99), Percentile(lat, 100)
	t.Logf("%d POST /jobs (%d at a time) in %s: p50 %s, p99 %s, max %s; model latency %s",
		n, workers, posted.Round(time.Millisecond), p50, p99, worst, modelLatency)
	// Not a speed goal (bench/ measures those): the order of events. A POST
	// that waited for the model would answer after the model did.
	if k := answeredFirst.Load(); k > 0 {
		t.Errorf("%d of %d POSTs answered after the model had answered their job: POST /jobs waits for the model", k, n)
	}

	// Every job ends done or failed, none stays queued.
	views := make([]map[string]any, n)
	pending := make([]int, n)
	for i := range pending {
		pending[i] = i
	}
	ctx := deadline(t, 2*time.Minute)
	for round := 0; len(pending) > 0; round++ {
		var mu sync.Mutex
		var still []int
		errs := Parallel(ctx, len(pending), workers, func(k int) error {
			i := pending[k]
			r, err := env.Do(http.MethodGet, base+"/jobs/"+ids[i], nil)
			if err != nil {
				return err
			}
			if r.Status != 200 {
				return fmt.Errorf("GET /jobs/%s: %d %s", ids[i], r.Status, clip(r.Body))
			}
			v := r.JSON()
			if v["status"] == "queued" {
				mu.Lock()
				still = append(still, i)
				mu.Unlock()
				return nil
			}
			views[i] = v
			return nil
		})
		if len(errs) > 0 {
			t.Fatalf("polling: %d errors, first: %v", len(errs), errs[0])
		}
		if len(still) > 0 && ctx.Err() != nil {
			t.Fatalf("%d jobs still queued after %s, e.g. %s", len(still), time.Since(began).Round(time.Second), ids[still[0]])
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(300 * time.Millisecond)
		}
	}
	settled := time.Since(began)

	done, failed, abandoned := 0, 0, 0
	for i, v := range views {
		// Paid calls only: a 200 the Worker retried after is abandoned200 (calls.outcomes).
		seq, ab := cl.outcomes(inputs[i])
		abandoned += ab
		n200 := count200(seq)
		switch v["status"] {
		case "done":
			done++
			if !strings.Contains(fmt.Sprint(v["result"]), fmt.Sprintf("%q", inputs[i])) {
				t.Errorf("job %s: result %v is not the answer to %q", ids[i], v["result"], inputs[i])
			}
			if n200 != 1 || seq[len(seq)-1] != 200 {
				t.Errorf("job %s is done after model calls %v: want failures, then one success", ids[i], seq)
			}
		case "failed":
			failed++
			if e, _ := v["error"].(string); e == "" {
				t.Errorf("failed job %s has no error: %v", ids[i], v)
			}
			if n200 != 0 || len(seq) == 0 || len(seq) > 3 {
				t.Errorf("job %s failed after model calls %v: want 1 to 3 failures", ids[i], seq)
			}
		default:
			t.Errorf("job %s ended %v", ids[i], v)
		}
	}
	st := env.RT.Model().Stats()
	if st.ByStatus["200"] != int64(done+abandoned) {
		t.Errorf("%d successful model calls (%d of them abandoned by the Worker) for %d done jobs", st.ByStatus["200"], abandoned, done)
	}
	t.Logf("%d jobs settled in %s: %d done, %d failed; %d model calls (%d x 200, %d x 429, %d x 500, %d x 529)",
		n, settled.Round(time.Millisecond), done, failed, st.Total, st.ByStatus["200"], st.ByStatus["429"], st.ByStatus["500"], st.ByStatus["529"])
	if strings.Contains(logs.String(), "internal error") {
		t.Error("a Worker logged an internal error")
	}
}
