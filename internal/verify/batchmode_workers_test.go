package verify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/verify/verifytest"
)

// The batch-mode check against the real Worker in batch mode on workerd:
// its jobs go to a Message Batch of the stand-in, the cron (run on demand,
// as `zerocost verify --local` runs it) polls them to done; with every batch
// request errored they end dead, and the check says so.
func TestBatchModeAgainstTheWorker(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		batch  devmodel.BatchOptions
		pass   bool
		detail string
	}{
		{name: "done", pass: true, detail: "3 jobs submitted in Message Batch msgbatch_"},
		{name: "every request errored", batch: devmodel.BatchOptions{Errors: devmodel.Selector{Every: 1}}, detail: "dead"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := batchPlanWith(t, `"maxRetries":1,"retryDelaySeconds":1`)
			rt := verifytest.Workers(t, devrun.Options{Plan: p, StandIn: devmodel.Options{Batch: c.batch}})
			tg := Target{Name: TargetLocal, URLs: verifytest.URLs(rt), Keys: verifytest.Keys(rt)}
			crons := 0
			tg.TriggerCron = func(ctx context.Context, product string) error {
				crons++
				rs, err := rt.TriggerCron(ctx, product, "")
				if err != nil {
					return err
				}
				return devrun.CronsFailed(product, rs)
			}
			o := Options{Plan: p, Target: tg, Timeout: time.Minute, PollInterval: 100 * time.Millisecond, RequestTimeout: 20 * time.Second, RunID: runID()}
			rep, err := Run(testCtx(t), o)
			if err != nil {
				t.Fatal(err)
			}
			var got *Check
			for i := range rep.Checks {
				if rep.Checks[i].Product == "bp" && rep.Checks[i].Check == CheckBatchMode {
					got = &rep.Checks[i]
				}
			}
			if got == nil {
				t.Fatalf("no batch-mode check in %+v", rep.Checks)
			}
			if (got.Status == Pass) != c.pass || !strings.Contains(got.Detail, c.detail) {
				t.Errorf("batch mode: %s %q, want pass=%v saying %q", got.Status, got.Detail, c.pass, c.detail)
			}
			if crons == 0 {
				t.Error("the check never ran the cron")
			}
		})
	}
}
