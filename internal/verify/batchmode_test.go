package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/stack/stacktest"
)

// batchPlan is a stack of one async pipeline in batch mode, batches of 3.
func batchPlan(t *testing.T) *plan.Plan { return batchPlanWith(t, "") }

// batchPlanWith is batchPlan's product with more settings (JSON members).
func batchPlanWith(t *testing.T, settings string) *plan.Plan {
	t.Helper()
	if settings != "" {
		settings = "," + settings
	}
	products := `[{"name":"bp","pattern":"async-pipeline","settings":{"modelMode":"batch","batchSize":3` + settings + `}}]`
	p, err := plan.Build(stacktest.Config(t, products), "../..")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeBatchWorker answers as an async pipeline in batch mode: each job is
// queued on its first poll, then submitted (with batch_id unless
// noBatchID), and done once the cron ran after its submission (never when
// stuck). skipSubmitted makes jobs go from queued straight to done.
type fakeBatchWorker struct {
	mu                  *sync.Mutex
	polls               map[string]int
	crons               int
	submittedAt         map[string]int // job -> crons run when it was first shown submitted
	noBatchID, stuck    bool
	skipSubmitted, dead bool
}

func (f *fakeBatchWorker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("content-type", "application/json")
	switch {
	case r.URL.Path == "/health":
		fmt.Fprint(w, `{"pattern":"async-pipeline","product":"bp"}`)
	case r.Method == http.MethodPost && r.URL.Path == "/jobs":
		var body struct{ Inputs []string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		var ids []string
		for i := range body.Inputs {
			ids = append(ids, fmt.Sprintf("job%d", i))
		}
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]any{"job_ids": ids})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/jobs/job"):
		id := strings.TrimPrefix(r.URL.Path, "/jobs/")
		f.polls[id]++
		m := map[string]any{"job_id": id, "status": "queued"}
		switch at, submitted := f.submittedAt[id]; {
		case f.polls[id] == 1:
		case f.dead:
			m = map[string]any{"job_id": id, "status": "dead", "error": "errored 3 times in its Message Batch"}
		case f.skipSubmitted:
			m = map[string]any{"job_id": id, "status": "done", "result": "hi"}
		case submitted && f.crons > at && !f.stuck:
			m = map[string]any{"job_id": id, "status": "done", "result": "hi"}
		default:
			if !submitted {
				f.submittedAt[id] = f.crons
			}
			m["status"] = "submitted"
			if !f.noBatchID {
				m["batch_id"] = "msgbatch_01"
			}
		}
		_ = json.NewEncoder(w).Encode(m)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/jobs/"):
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":"not_found"}`)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
		fmt.Fprint(w, `{"error":"method_not_allowed"}`)
	}
}

// In batch mode the pipeline's batch check is the batch-mode check: jobs
// submitted with a batch id, done after the cron ran (locally, run on
// demand); a deployed stack passes at submitted; every way it can go wrong
// says what.
func TestBatchModeCheck(t *testing.T) {
	p := batchPlan(t)
	for _, c := range []struct {
		name       string
		worker     fakeBatchWorker
		deployed   bool
		triggerErr error
		pass       bool
		detail     string
	}{
		{name: "local: submitted, cron, done", pass: true, detail: "3 jobs submitted in Message Batch msgbatch_01, done after 3 polls and 1 cron runs"},
		{name: "deployed: passes at submitted", deployed: true, pass: true, detail: "3 jobs submitted in Message Batch msgbatch_01 (their results come when"},
		{name: "submitted without a batch id", worker: fakeBatchWorker{noBatchID: true}, detail: "job job0 is submitted without a batch_id"},
		{name: "done without submitted", worker: fakeBatchWorker{skipSubmitted: true}, detail: "jobs job0, job1, job2 are done but none was seen submitted to a Message Batch: does the Worker run in batch mode (MODEL_MODE)?"},
		{name: "batch never ends", worker: fakeBatchWorker{stuck: true}, detail: "job0 still submitted in msgbatch_01, job1 still submitted in msgbatch_01, job2 still submitted in msgbatch_01; the cron trigger ran 9 times and the batches did not end"},
		{name: "dead", worker: fakeBatchWorker{dead: true}, detail: "job job0 dead: errored 3 times in its Message Batch"},
		{name: "the cron cannot run", triggerErr: errors.New("bp: the scheduled handler failed (exception)"), detail: "running the cron trigger that polls the Message Batches: bp: the scheduled handler failed (exception)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &c.worker
			f.mu, f.polls, f.submittedAt = &sync.Mutex{}, map[string]int{}, map[string]int{}
			srv := httptest.NewServer(f)
			defer srv.Close()
			tg := Target{Name: TargetLocal, URLs: map[string]string{"bp": srv.URL}, Keys: map[string]string{"bp": "zck_any-key-the-fake-takes"}}
			if !c.deployed {
				tg.TriggerCron = func(_ context.Context, product string) error {
					if product != "bp" {
						t.Errorf("cron of %q", product)
					}
					if c.triggerErr != nil {
						return c.triggerErr
					}
					f.mu.Lock()
					f.crons++
					f.mu.Unlock()
					return nil
				}
			} else {
				tg.Name = TargetDeployed
			}
			o := Options{Plan: p, Target: tg, Timeout: 10 * time.Second, PollInterval: time.Second, RequestTimeout: 10 * time.Second, RunID: "t1",
				Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
			rep, err := Run(testCtx(t), o)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(names(rep, "bp"), ","); got != "health,no key,method,bad input,unknown job,batch mode" {
				t.Fatalf("checks %s", got)
			}
			chk := find(t, rep, "bp", CheckBatchMode)
			if (chk.Status == Pass) != c.pass || !strings.Contains(chk.Detail, c.detail) {
				t.Errorf("%s: %q, want pass=%v with %q", chk.Status, chk.Detail, c.pass, c.detail)
			}
		})
	}
}
