package verify

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/plan/plantest"
	"github.com/zerocost/zerocost/internal/verify/verifytest"
)

const projectDir = "../.."

func demoPlan(t *testing.T) *plan.Plan { return plantest.DemoPlan(t) }

// serve starts a fake Worker per product and returns the local target.
func serve(t *testing.T, p *plan.Plan, tweak func(name string, f *verifytest.Worker)) (Target, map[string]*verifytest.Worker) {
	t.Helper()
	urls, fakes := verifytest.Serve(t, p, tweak)
	return Target{Name: TargetLocal, URLs: urls}, fakes
}

// noSleep records the pauses without waiting.
type noSleep struct {
	mu    sync.Mutex
	calls int
}

func (n *noSleep) sleep(ctx context.Context, d time.Duration) error {
	n.mu.Lock()
	n.calls++
	n.mu.Unlock()
	return ctx.Err()
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func find(t *testing.T, r *Report, product, check string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Product == product && c.Check == check {
			return c
		}
	}
	t.Fatalf("no check %s/%s in %+v", product, check, r.Checks)
	return Check{}
}
