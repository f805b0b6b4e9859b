package verify

import (
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/verify/verifytest"
)

func routeOpts(t *testing.T, tg Target) (Options, *noSleep) {
	ns := &noSleep{}
	return Options{Plan: demoPlan(t), Target: tg, Timeout: 2 * time.Second, PollInterval: 100 * time.Millisecond,
		RequestTimeout: 5 * time.Second, Sleep: ns.sleep, RunID: "run42"}, ns
}

func names(r *Report, product string) []string {
	var out []string
	for _, c := range r.Checks {
		if c.Product == product {
			out = append(out, c.Check)
		}
	}
	return out
}

func TestRoutesAllPass(t *testing.T) {
	p := demoPlan(t)
	tg, fakes := serve(t, p, func(_ string, f *verifytest.Worker) { f.PollsUntilDone = 2 })
	o, ns := routeOpts(t, tg)
	var progress []int
	o.Progress = func(done, total int, c Check) { progress = append(progress, done) }
	rep, err := Run(testCtx(t), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		if c.Status != Pass {
			t.Errorf("%s/%s failed: %s", c.Product, c.Check, c.Detail)
		}
		if c.Kind != KindRoute {
			t.Errorf("%s/%s kind %s", c.Product, c.Check, c.Kind)
		}
	}
	if !rep.Passed || rep.Stack != "demo" || rep.Target != TargetLocal {
		t.Errorf("report %+v", rep)
	}
	want := map[string]string{
		"sales-engine":    "health,method,bad input,unknown job,job",
		"delivery-worker": "health,method,bad input,unknown job,job",
		"email-worker":    "health,method,bad input,unknown job,batch",
		"ai-relay":        "health,method,bad input,cache",
	}
	for product, checks := range want {
		if got := strings.Join(names(rep, product), ","); got != checks {
			t.Errorf("%s: checks %s, want %s", product, got, checks)
		}
	}
	if len(progress) != len(rep.Checks) || progress[len(progress)-1] != len(rep.Checks) {
		t.Errorf("progress %v for %d checks", progress, len(rep.Checks))
	}
	// Jobs were polled until done: 3 polls for one job, 3 per batch job.
	if got := fakes["sales-engine"].JobPolls(); got != 3 {
		t.Errorf("sales-engine polls %d", got)
	}
	// The batch has the consumer's batch size (5 in the demo stack).
	if got := fakes["email-worker"].JobPolls(); got != 3*5 {
		t.Errorf("email-worker polls %d", got)
	}
	if ns.calls == 0 {
		t.Error("polling never paused")
	}
	if d := find(t, rep, "ai-relay", CheckCache).Detail; !strings.Contains(d, "MISS, then HIT") {
		t.Errorf("cache detail %q", d)
	}
	// The cache check made exactly one model call: the second question hit.
	if got := fakes["ai-relay"].ModelCalls(); got != 1 {
		t.Errorf("ai-relay model calls %d", got)
	}
}

// Each broken Worker fails verify, and the failure names the check.
func TestRoutesBroken(t *testing.T) {
	cases := []struct {
		name, product, check string
		tweak                func(f *verifytest.Worker)
		detail               string
	}{
		{"health 500", "sales-engine", CheckHealth, func(f *verifytest.Worker) { f.HealthStatus = 500 }, "want HTTP 200, got HTTP 500"},
		{"health names another product", "ai-relay", CheckHealth, func(f *verifytest.Worker) { f.HealthProduct = "other" }, `mismatched product: expected ai-relay, got "other"`},
		{"job stays queued", "sales-engine", CheckJob, func(f *verifytest.Worker) { f.Stuck = true }, "still queued"},
		{"job fails", "delivery-worker", CheckJob, func(f *verifytest.Worker) { f.FailJobs = true }, "failed: model API answered 500"},
		{"empty result", "sales-engine", CheckJob, func(f *verifytest.Worker) { f.EmptyResult = true }, "empty result"},
		{"batch stays queued", "email-worker", CheckBatch, func(f *verifytest.Worker) { f.Stuck = true }, "not done within 2s (20 polls)"},
		{"cache never hits", "ai-relay", CheckCache, func(f *verifytest.Worker) { f.CacheNeverHits = true }, "never answered x-cache HIT (4 tries"},
		{"cache ignores the question", "ai-relay", CheckCache, func(f *verifytest.Worker) {
			f.CacheIgnoresQuestion = true
			f.Seed("an old question", "a stale answer")
		}, "want x-cache MISS"},
		{"no 405", "email-worker", CheckMethod, func(f *verifytest.Worker) { f.No405 = true }, "want HTTP 405, got HTTP 404"},
		{"auth on, no token", "sales-engine", CheckMethod, func(f *verifytest.Worker) { f.Token = "secret" }, "set ZEROCOST_AUTH_TOKEN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := demoPlan(t)
			tg, _ := serve(t, p, func(name string, f *verifytest.Worker) {
				if name == c.product {
					c.tweak(f)
				}
			})
			o, _ := routeOpts(t, tg)
			rep, err := Run(testCtx(t), o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Passed {
				t.Fatal("a broken Worker passed")
			}
			got := find(t, rep, c.product, c.check)
			if got.Status != Fail || !strings.Contains(got.Detail, c.detail) {
				t.Errorf("%s/%s: %s %q, want it to fail with %q", c.product, c.check, got.Status, got.Detail, c.detail)
			}
			for _, f := range rep.Failed() {
				if f.Product != c.product {
					t.Errorf("an unbroken product failed: %+v", f)
				}
			}
		})
	}
}

func TestRefusedConnection(t *testing.T) {
	p := demoPlan(t)
	tg, _ := serve(t, p, nil)
	tg.URLs["email-worker"] = verifytest.RefusedURL(t)
	delete(tg.URLs, "ai-relay")
	tg.Unavailable = map[string]string{"ai-relay": "not running in zerocost dev"}
	o, _ := routeOpts(t, tg)
	rep, err := Run(testCtx(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed {
		t.Fatal("passed with a product down")
	}
	h := find(t, rep, "email-worker", CheckHealth)
	if h.Status != Fail || !strings.Contains(h.Detail, "GET /health") || !strings.Contains(h.Detail, "connection refused") {
		t.Errorf("health %+v", h)
	}
	if b := find(t, rep, "email-worker", CheckBatch); b.Status != Fail || !strings.Contains(b.Detail, "did not answer GET /health") {
		t.Errorf("batch %+v", b)
	}
	for _, name := range names(rep, "ai-relay") {
		if c := find(t, rep, "ai-relay", name); c.Status != Fail || c.Detail != "not running in zerocost dev" {
			t.Errorf("ai-relay %+v", c)
		}
	}
	if find(t, rep, "sales-engine", CheckJob).Status != Pass {
		t.Error("a running product failed")
	}
}

func TestAuthToken(t *testing.T) {
	p := demoPlan(t)
	tg, _ := serve(t, p, func(name string, f *verifytest.Worker) {
		if name != "delivery-worker" { // delivery-worker ignores the token
			f.Token = "s3cret"
		}
	})
	o, _ := routeOpts(t, tg)
	o.AuthToken = "s3cret"
	rep, err := Run(testCtx(t), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		bad := c.Product == "delivery-worker" && c.Check == CheckAuth
		if (c.Status == Fail) != bad {
			t.Errorf("%s/%s: %s %s", c.Product, c.Check, c.Status, c.Detail)
		}
	}
	if d := find(t, rep, "delivery-worker", CheckAuth).Detail; !strings.Contains(d, "want HTTP 401") {
		t.Errorf("auth detail %q", d)
	}
}

func TestRateLimit(t *testing.T) {
	p := demoPlan(t)
	run := func(limit int) *Report {
		tg, _ := serve(t, p, func(_ string, f *verifytest.Worker) { f.Limit = limit })
		o, _ := routeOpts(t, tg)
		o.CheckRateLimit = true
		o.Products = []string{"sales-engine", "ai-relay", "email-worker"}
		rep, err := Run(testCtx(t), o)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := run(60)
	for _, product := range []string{"sales-engine", "ai-relay"} {
		c := find(t, rep, product, CheckRateLimit)
		if c.Status != Pass || !strings.Contains(c.Detail, "(limit 60 per minute), Retry-After 42") {
			t.Errorf("%s: %+v", product, c)
		}
	}
	if got := names(rep, "email-worker"); strings.Contains(strings.Join(got, ","), CheckRateLimit) {
		t.Errorf("async-pipeline got a rate-limit check: %v", got)
	}
	if !rep.Passed {
		t.Errorf("failed: %+v", rep.Failed())
	}
	if d := find(t, run(0), "sales-engine", CheckRateLimit).Detail; d != "no 429 after 100 requests; the plan allows 60 per minute" {
		t.Errorf("no limiter: %q", d)
	}
	if d := find(t, run(20), "ai-relay", CheckRateLimit).Detail; !strings.Contains(d, "429 already at request") {
		t.Errorf("limit too low: %q", d)
	}
}

func TestPollingIsBounded(t *testing.T) {
	p := demoPlan(t)
	tg, fakes := serve(t, p, func(_ string, f *verifytest.Worker) { f.Stuck = true })
	o, ns := routeOpts(t, tg)
	o.Products = []string{"sales-engine"}
	o.Timeout, o.PollInterval = 3*time.Second, time.Second
	start := time.Now()
	rep, err := Run(testCtx(t), o)
	if err != nil {
		t.Fatal(err)
	}
	c := find(t, rep, "sales-engine", CheckJob)
	if c.Status != Fail || !strings.Contains(c.Detail, "not done within 3s (3 polls)") {
		t.Errorf("job %+v", c)
	}
	if fakes["sales-engine"].JobPolls() != 3 || ns.calls != 2 {
		t.Errorf("%d polls, %d pauses", fakes["sales-engine"].JobPolls(), ns.calls)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("polling waited on the clock")
	}
}

func TestOptionErrors(t *testing.T) {
	if _, err := Run(testCtx(t), Options{}); err == nil {
		t.Error("no plan accepted")
	}
	o, _ := routeOpts(t, Target{})
	o.Products = []string{"nope"}
	if _, err := Run(testCtx(t), o); err == nil || !strings.Contains(err.Error(), `no product "nope"`) {
		t.Errorf("unknown product: %v", err)
	}
	o.Products, o.SkipRoutes = nil, true
	if _, err := Run(testCtx(t), o); err != ErrNoChecks {
		t.Errorf("nothing to run: %v", err)
	}
}
