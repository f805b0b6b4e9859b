package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/plan/plantest"
	"github.com/zerocost/zerocost/internal/verify/verifytest"
)

func demoPlan(t *testing.T) *plan.Plan { return plantest.DemoPlan(t) }

// The route tests run verify against the real Workers: the demo stack on
// workerd as `zerocost dev` runs it (internal/devrun), with the local
// stand-in model. Each runtime starts on first use and serves every test of
// the package that needs it; TestMain stops them.
const (
	rtDefault = "default"
	// rtAuth's Workers have AUTH_TOKEN set to authToken.
	rtAuth = "auth"
	// rtRateLimit's limiters are spent by TestRateLimit alone.
	rtRateLimit = "rate limit"
)

const authToken = "s3cret"

// workerRuntime is one started runtime and the model calls it made.
type workerRuntime struct {
	rt    *devrun.Runtime
	calls *modelCalls
}

// shared starts each runtime once for the package (verifytest.Shared);
// calls keeps each runtime's model-call recorder by name.
var (
	shared verifytest.Shared
	calls  = struct {
		sync.Mutex
		m map[string]*modelCalls
	}{m: map[string]*modelCalls{}}
)

func TestMain(m *testing.M) { shared.Main(m) }

// workers returns the named runtime, starting it on first use.
func workers(t *testing.T, name string) *workerRuntime {
	t.Helper()
	calls.Lock()
	mc := calls.m[name]
	if mc == nil {
		mc = &modelCalls{}
		calls.m[name] = mc
	}
	calls.Unlock()
	o := devrun.Options{StandIn: devmodel.Options{Observe: mc.observe}}
	if name == rtAuth {
		o.AuthToken = authToken
	}
	return &workerRuntime{rt: shared.Get(t, name, o), calls: mc}
}

// target is the runtime's products as verify's local target.
func (w *workerRuntime) target() Target {
	st := w.rt.State()
	return Target{Name: TargetLocal, URLs: verifytest.URLs(w.rt), Keys: verifytest.Keys(w.rt), PutKey: st.PutKey}
}

// modelCalls records the inputs of the stand-in model's calls.
type modelCalls struct {
	mu     sync.Mutex
	inputs []string
}

func (m *modelCalls) observe(c devmodel.CallInfo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inputs = append(m.inputs, c.Input)
}

// count is how many calls had an input containing all of parts.
func (m *modelCalls) count(parts ...string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
next:
	for _, in := range m.inputs {
		for _, p := range parts {
			if !strings.Contains(in, p) {
				continue next
			}
		}
		n++
	}
	return n
}

// breakOne puts a proxy that breaks the product's Worker (verifytest.Break)
// in front of it in the target.
func breakOne(t *testing.T, tg Target, product string, b *verifytest.Breakage) {
	t.Helper()
	tg.URLs[product] = verifytest.Break(t, tg.URLs[product], b)
}

// runID is a new run id: the runtimes outlive a test, and their caches and
// job stores with them.
func runID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "t" + hex.EncodeToString(b)
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
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
