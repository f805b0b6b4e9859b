package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
)

// Throughput is one run of the pipeline against the stand-in's rate limit.
type Throughput struct {
	RPM      int `json:"rpm"`
	OwnLimit int `json:"own_limit_per_minute"`
	Jobs     int `json:"jobs"`
	// Elapsed runs from the first POST to the last job's record in R2.
	Elapsed time.Duration `json:"elapsed_ns"`
	Done    int           `json:"done"`
	Dead    int           `json:"dead"`
	// Efficiency is Done over the most a rolling one-minute limit of RPM
	// admits in Elapsed: RPM * (1 + Elapsed/60 s).
	Efficiency float64 `json:"efficiency"`
	Calls      int64   `json:"model_calls"`
	Calls429   int64   `json:"model_429s"`
	TimedOut   bool    `json:"timed_out"`
}

// PipelineStack is the throughput run's stack: the default batchSize (the
// full packs one delivery runs: 2, a public stack without a budget), short waits,
// max_retries 3 (so a job that spent its retries waiting for the limit would
// reach the dead-letter queue within four minutes of backlog), and a door
// (per caller) wide enough for the one client that posts the whole backlog;
// public (no customer keys: the bench's client has none).
func PipelineStack(ownLimit int) string {
	return fmt.Sprintf(`config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:products:
    - name: pipe
      pattern: async-pipeline
      access: public
      settings:
        batchTimeoutSeconds: 1
        maxRetries: 3
        retryDelaySeconds: 5
        rateLimitPerMinute: %d
        doorLimitPerMinute: 1000000
`, ownLimit)
}

// PipelineThroughput posts jobs (in POSTs of 100) to an async pipeline whose
// model allows rpm calls a minute, and waits (at most limit) until every job
// has a result or a failure record.
func PipelineThroughput(ctx context.Context, root string, rpm, jobs, ownLimit int, limit time.Duration, log io.Writer) (Throughput, error) {
	out := Throughput{RPM: rpm, OwnLimit: ownLimit, Jobs: jobs}
	rt, stop, err := StartRuntime(ctx, root, PipelineStack(ownLimit), "unused", devmodel.Options{RPM: rpm}, log)
	if err != nil {
		return out, err
	}
	defer stop()
	env := rt.Env
	pr := env.Plan.Product("pipe")
	bucket, base := pr.R2Buckets[0].Name, env.URL("pipe")

	start := time.Now()
	for i := 0; i < jobs; i += 100 {
		var inputs []string
		for j := i; j < min(i+100, jobs); j++ {
			inputs = append(inputs, fmt.Sprintf("throughput job %d", j))
		}
		body, _ := json.Marshal(map[string]any{"inputs": inputs})
		if _, err := rt.Do(Request{Method: http.MethodPost, URL: base + "/jobs", Body: body, Want: http.StatusAccepted}); err != nil {
			return out, err
		}
	}
	deadline := time.Now().Add(limit)
	ended := map[string]string{} // job id -> done or dead, from its record (jobs/<id>.json)
	for i := 0; ; i++ {
		keys, err := env.R2Keys(bucket, "jobs/")
		if err != nil {
			return out, fmt.Errorf("listing records: %v", err)
		}
		var open []string
		for _, k := range keys {
			if id := strings.TrimSuffix(strings.TrimPrefix(k, "jobs/"), ".json"); ended[id] == "" {
				open = append(open, id)
			}
		}
		recs, err := env.JobRecords(bucket, open)
		if err != nil {
			return out, fmt.Errorf("reading records: %v", err)
		}
		for id, r := range recs {
			if r.Status == "done" || r.Status == "dead" || r.Status == "failed" {
				ended[id] = r.Status
			}
		}
		out.Done, out.Dead = 0, 0
		for _, st := range ended {
			if st == "done" {
				out.Done++
			} else {
				out.Dead++
			}
		}
		out.Elapsed = time.Since(start)
		if out.Done+out.Dead >= jobs {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil || i > 100000 {
			out.TimedOut = true
			break
		}
		time.Sleep(time.Second)
	}
	st := env.RT.Model().Stats()
	out.Calls, out.Calls429 = st.Total, st.ByStatus["429"]
	out.Efficiency = float64(out.Done) / (float64(rpm) * (1 + out.Elapsed.Minutes()))
	return out, nil
}

// String is a one-line summary.
func (t Throughput) String() string {
	own := "none below the model's"
	if t.OwnLimit < 1_000_000 {
		own = fmt.Sprintf("%d/min", t.OwnLimit)
	}
	s := fmt.Sprintf("rpm %d, own limit %s: %d jobs in %s, %d done, %d dead, %.0f%% of the limit; %d model calls (%d x 429)",
		t.RPM, own, t.Jobs, t.Elapsed.Round(time.Second), t.Done, t.Dead, 100*t.Efficiency, t.Calls, t.Calls429)
	if t.TimedOut {
		s += " (TIMED OUT)"
	}
	return s
}
