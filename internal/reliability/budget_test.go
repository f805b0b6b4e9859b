package reliability

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/devrun"
)

// budgetStack is the pipeline's stack with a monthly model budget of
// usd USD (the stand-in's replies cost about $0.00012 each at
// claude-haiku-4-5's prices, so $0.006 is worth about 50 jobs). Batches of
// 10: the calls in flight when the budget runs out are those of the batches
// being consumed.
func budgetStack(usd string) string {
	settings := append([]string{"batchSize: 10"}, settleFast...)
	return pipeStack(append(settings, "monthlyBudgetUsd: "+usd)...)
}

const budgetToken = "reliability-budget-token"

// bearer adds the stack's AUTH_TOKEN to every request (POST /jobs needs it too).
type bearer struct{ base http.RoundTripper }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+budgetToken)
	return b.base.RoundTrip(r)
}

func withBearer(env *Env) {
	c := *env.Client
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = bearer{base}
	env.Client = &c
}

// settleOrParked waits until every job's record says done, dead, failed or
// budget_exhausted, and returns the records.
func (p *pipeline) settleOrParked(t *testing.T, jobs map[string]string, limit time.Duration) map[string]JobRecord {
	t.Helper()
	return p.settleAt(t, jobs, limit, "done", "dead", "failed", "budget_exhausted")
}

// admin calls an admin route with the bearer token and decodes the JSON answer.
func (p *pipeline) admin(t *testing.T, method, path string, body []byte) (int, map[string]any) {
	t.Helper()
	hdr := []string{"Authorization", "Bearer " + budgetToken}
	if body != nil {
		hdr = append(hdr, "Content-Type", "application/json")
	}
	r, err := p.env.Do(method, p.base+path, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, r.Status, clip(r.Body))
	}
	return r.Status, m
}

// parkedIDs pages GET /admin/jobs?status=budget_exhausted.
func (p *pipeline) parkedIDs(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	cursor := ""
	for page := 0; page < 1000; page++ {
		path := "/admin/jobs?status=budget_exhausted&limit=50"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		code, m := p.admin(t, http.MethodGet, path, nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, code, m)
		}
		jobs, _ := m["jobs"].([]any)
		for _, j := range jobs {
			id, _ := j.(map[string]any)["job_id"].(string)
			if out[id] {
				t.Fatalf("job %s listed twice", id)
			}
			out[id] = true
		}
		c, _ := m["cursor"].(string)
		if c == "" {
			return out
		}
		cursor = c
	}
	t.Fatal("GET /admin/jobs: more than 1000 pages")
	return nil
}

// A pipeline backlog that runs into its monthly budget: every job ends done
// or parked (budget_exhausted, listed by the admin route), none dead, none
// lost, nothing left in the queue; the spend stops near the budget. After a
// budget raise (a new stack value, the runtime restarted on the same state),
// resume re-queues the parked jobs and every job ends done, each model call
// made once per job.
func TestPipelineRunsIntoItsBudget(t *testing.T) {
	n := Size(300, 2000)
	cl := newCalls()
	dir := project(t, "bud", budgetStack("0.006"), nil)
	data := t.TempDir()
	withState := func(o *devrun.Options) {
		o.DataDir = data
		o.AuthToken = budgetToken
	}
	env, logs1 := start(t, dir, "bud", devmodel.Options{Observe: cl.observe}, withState)
	withBearer(env)
	p := newPipeline(env)

	run := fmt.Sprintf("%x", time.Now().UnixNano())
	inputs := make([]string, n)
	for i := range inputs {
		inputs[i] = fmt.Sprintf("job %d of run %s", i, run)
	}
	jobs := p.post(t, inputs, 4)
	recs := p.settleOrParked(t, jobs, time.Duration(Size(3, 10))*time.Minute)

	done, parked := 0, map[string]bool{}
	for id, rec := range recs {
		switch rec.Status {
		case "done":
			done++
		case "budget_exhausted":
			parked[id] = true
			if !strings.Contains(rec.Error, "budget") {
				t.Errorf("job %s parked without the reason: %+v", id, rec)
			}
		default:
			t.Errorf("job %s ended %s: %+v", id, rec.Status, rec)
		}
	}
	if done == 0 || len(parked) == 0 {
		t.Fatalf("%d done and %d parked of %d: the budget should stop the backlog part-way", done, len(parked), n)
	}
	p.expectObjects(t, jobs, recs) // each parked job's record also under held/
	listed := p.parkedIDs(t)
	if len(listed) != len(parked) {
		t.Errorf("GET /admin/jobs lists %d jobs, %d records are budget_exhausted", len(listed), len(parked))
	}
	for id := range parked {
		if !listed[id] {
			t.Errorf("parked job %s is not listed", id)
		}
	}
	_, st := p.admin(t, http.MethodGet, "/admin/budget", nil)
	spent, _ := st["spent_usd"].(float64)
	if spent < 0.006 {
		t.Errorf("parked jobs while the spend is under the budget: %v", st)
	}
	calls := env.RT.Model().Stats().Total
	paid := 0
	for _, input := range jobs {
		n, _ := cl.paid(input)
		paid += n
	}
	if paid != done {
		t.Errorf("%d model calls answered 200 to the Worker (%d calls in all) for %d done jobs", paid, calls, done)
	}
	t.Logf("budget $0.006: %d done, %d parked; spent $%.6f (%d model calls; over the budget by %.0f%%)",
		done, len(parked), spent, calls, (spent/0.006-1)*100)

	// Still spent: resume refuses.
	if code, m := p.admin(t, http.MethodPost, "/admin/jobs/resume", []byte(`{}`)); code != http.StatusTooManyRequests {
		t.Fatalf("resume with the budget spent: %d %v", code, m)
	}

	// The budget raised: a new stack value, the runtime restarted on the same state.
	if err := env.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.bud.yaml"), []byte(budgetStack("1000")), 0o644); err != nil {
		t.Fatal(err)
	}
	env2, logs2 := start(t, dir, "bud", devmodel.Options{Observe: cl.observe}, withState)
	withBearer(env2)
	p2 := newPipeline(env2)
	if _, st := p2.admin(t, http.MethodGet, "/admin/budget", nil); st["spent_usd"] != spent {
		t.Errorf("after the restart: %v, want $%v spent", st, spent)
	}
	resumed := 0
	for i := 0; i < 100; i++ {
		code, m := p2.admin(t, http.MethodPost, "/admin/jobs/resume", nil)
		if code != http.StatusOK {
			t.Fatalf("resume: %d %v", code, m)
		}
		resumed += int(m["resumed"].(float64))
		if m["remaining"].(float64) == 0 {
			break
		}
	}
	if resumed != len(parked) {
		t.Errorf("resumed %d of %d parked jobs", resumed, len(parked))
	}
	final := p2.settleOrParked(t, jobs, time.Duration(Size(3, 10))*time.Minute)
	for id, rec := range final {
		if rec.Status != "done" {
			t.Errorf("job %s ended %s after the resume: %+v", id, rec.Status, rec)
		}
	}
	if left := p2.parkedIDs(t); len(left) != 0 {
		t.Errorf("%d jobs still parked after the resume", len(left))
	}
	p2.expectObjects(t, jobs, final) // resume moved them back: no held copy left
	// One model call paid per job over both runs: no call answered 200 to
	// the Worker but one (a call it abandoned, timed out, is a failed call).
	abandoned := 0
	for id, input := range jobs {
		paid, lost := cl.paid(input)
		abandoned += lost
		if paid != 1 {
			t.Errorf("job %s: model calls %v (retry counts %v), %d answered 200 to the Worker, want one", id, cl.of(input), cl.retriesOf(input), paid)
			logLines(t, id, logs1, logs2)
		}
	}
	// A parked job whose message outlived its parking (still in the queue
	// when the runtime stopped) is run by that message; resume must not send
	// it again over its claim or its result.
	ranElsewhere := strings.Count(logs2.String(), "not sent again")
	t.Logf("after the raise: %d resumed (%d of them run by a message of their own, not sent again), all %d jobs done; %d calls answered 200 after the Worker gave up on them",
		resumed, ranElsewhere, n, abandoned)
}
