package verify

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/verify/verifytest"
)

// routeOpts are verify's options for a run against real Workers: real
// pauses between polls, a timeout the Workers meet on a loaded machine.
func routeOpts(t *testing.T, tg Target) Options {
	return Options{Plan: demoPlan(t), Target: tg, Timeout: 30 * time.Second, PollInterval: 100 * time.Millisecond,
		RequestTimeout: 20 * time.Second, RunID: runID()}
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

var pollsRE = regexp.MustCompile(`done after (\d+) polls`)

// polls is the number of polls a job or batch check reports.
func polls(t *testing.T, detail string) int {
	t.Helper()
	m := pollsRE.FindStringSubmatch(detail)
	if m == nil {
		t.Fatalf("no poll count in %q", detail)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestRoutesAllPass(t *testing.T) {
	w := workers(t, rtDefault)
	tg := w.target()
	seen := map[string]*verifytest.Breakage{}
	for name := range tg.URLs {
		seen[name] = &verifytest.Breakage{} // passes everything through, counting job polls
		breakOne(t, tg, name, seen[name])
	}
	o := routeOpts(t, tg)
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
		t.Fatalf("report %+v", rep)
	}
	want := map[string]string{
		"sales-engine":    "health,no key,revoked key,other customer,method,bad input,unknown job,job",
		"delivery-worker": "health,no key,revoked key,other customer,method,bad input,unknown job,job",
		"email-worker":    "health,no key,revoked key,other customer,method,bad input,unknown job,batch",
		"ai-relay":        "health,no key,revoked key,method,bad input,cache",
	}
	for product, checks := range want {
		if got := strings.Join(names(rep, product), ","); got != checks {
			t.Errorf("%s: checks %s, want %s", product, got, checks)
		}
	}
	if len(progress) != len(rep.Checks) || progress[len(progress)-1] != len(rep.Checks) {
		t.Errorf("progress %v for %d checks", progress, len(rep.Checks))
	}
	// The job was polled until done: the Worker saw the polls the check reports.
	if n, got := polls(t, find(t, rep, "sales-engine", CheckJob).Detail), seen["sales-engine"].JobPolls(); got != n {
		t.Errorf("sales-engine: the check reports %d polls, the Worker answered %d", n, got)
	}
	// The batch has BatchInputs jobs, each polled until done.
	d := find(t, rep, "email-worker", CheckBatch).Detail
	if n, got := polls(t, d), seen["email-worker"].JobPolls(); !strings.HasPrefix(d, fmt.Sprintf("%d jobs done", BatchInputs)) || got < BatchInputs || got < n || got > BatchInputs*n {
		t.Errorf("email-worker: %q, %d polls answered", d, got)
	}
	if d := find(t, rep, "ai-relay", CheckCache).Detail; !strings.Contains(d, "MISS, then HIT") {
		t.Errorf("cache detail %q", d)
	}
	// The cache check made exactly one model call: the second question hit.
	if got := w.calls.count(o.RunID, "edge cache"); got != 1 {
		t.Errorf("ai-relay: %d model calls for the cache check", got)
	}
}

// Each broken Worker fails verify, and the failure names the check. The
// Workers are real; a proxy breaks what the real Workers never do
// (verifytest.Breakage), a failing model and a missing token are real.
func TestRoutesBroken(t *testing.T) {
	cases := []struct {
		name, product, check string
		breakage             *verifytest.Breakage
		// setup, when set, prepares the target instead (after breakage).
		setup  func(t *testing.T, tg Target, o *Options)
		detail string
	}{
		{name: "health 500", product: "sales-engine", check: CheckHealth, breakage: &verifytest.Breakage{HealthStatus: 500},
			detail: "want HTTP 200, got HTTP 500"},
		{name: "health names another product", product: "ai-relay", check: CheckHealth, breakage: &verifytest.Breakage{HealthProduct: "other"},
			detail: `mismatched product: expected ai-relay, got "other"`},
		{name: "job stays queued", product: "sales-engine", check: CheckJob, breakage: &verifytest.Breakage{Stuck: true},
			setup: shortWait("sales-engine"), detail: "still queued"},
		{name: "job fails", product: "delivery-worker", check: CheckJob, setup: func(t *testing.T, tg Target, o *Options) {
			// The stand-in fails every call: the Worker gives up and marks the
			// job failed (on the workflow runner after its three attempts, 10 s
			// and 20 s apart).
			model := workers(t, rtDefault).rt.Model()
			if err := model.SetFaults(1, 0); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { model.SetFaults(0, 0) })
			o.Products = []string{"delivery-worker"}
		}, detail: "failed: the model API answered 5"},
		{name: "empty result", product: "sales-engine", check: CheckJob, breakage: &verifytest.Breakage{EmptyResult: true},
			detail: "empty result"},
		{name: "batch stays queued", product: "email-worker", check: CheckBatch, breakage: &verifytest.Breakage{Stuck: true},
			setup: shortWait("email-worker"), detail: "not done within 2s (20 polls)"},
		{name: "cache never hits", product: "ai-relay", check: CheckCache, breakage: &verifytest.Breakage{CacheNeverHits: true},
			detail: "never answered x-cache HIT (4 tries"},
		{name: "cache ignores the question", product: "ai-relay", check: CheckCache, setup: func(t *testing.T, tg Target, o *Options) {
			b := &verifytest.Breakage{SameQuestion: "the one question of " + o.RunID}
			breakOne(t, tg, "ai-relay", b)
			// Someone asked before: the cache holds the one question's answer.
			req, _ := http.NewRequest(http.MethodPost, tg.URLs["ai-relay"]+"/ask", strings.NewReader(`{"input": "anything"}`))
			req.Header.Set("x-api-key", tg.Keys["ai-relay"])
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("seeding the cache: HTTP %d", res.StatusCode)
			}
		}, detail: "want x-cache MISS"},
		{name: "no 405", product: "email-worker", check: CheckMethod, breakage: &verifytest.Breakage{No405: true},
			detail: "want HTTP 405, got HTTP 404"},
		{name: "a key of another stack", product: "sales-engine", check: CheckMethod, setup: func(t *testing.T, tg Target, o *Options) {
			// This product's Worker is another runtime's: the key is not in its KEYS.
			tg.URLs["sales-engine"] = workers(t, rtAuth).target().URLs["sales-engine"]
		}, detail: "wants a customer key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := workers(t, rtDefault).target()
			o := routeOpts(t, tg)
			if c.breakage != nil {
				breakOne(t, tg, c.product, c.breakage)
			}
			if c.setup != nil {
				c.setup(t, tg, &o)
			}
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

// shortWait gives up on jobs after 2 s of 100 ms polls and runs the broken
// product alone: a real Worker slowed by a loaded machine would fail the
// others within 2 s too.
func shortWait(product string) func(*testing.T, Target, *Options) {
	return func(_ *testing.T, _ Target, o *Options) {
		o.Timeout = 2 * time.Second
		o.Products = []string{product}
	}
}

func TestRefusedConnection(t *testing.T) {
	tg := workers(t, rtDefault).target()
	tg.URLs["email-worker"] = verifytest.RefusedURL(t)
	delete(tg.URLs, "ai-relay")
	tg.Unavailable = map[string]string{"ai-relay": "not running in zerocost dev"}
	rep, err := Run(testCtx(t), routeOpts(t, tg))
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
	if c := find(t, rep, "sales-engine", CheckJob); c.Status != Pass {
		t.Errorf("a running product failed: %+v", c)
	}
}

// With AUTH_TOKEN set, every route but /health wants the token: verify sends
// it and checks a request without it gets 401, which fails for a Worker that
// lets anyone in.
func TestAuthToken(t *testing.T) {
	tg := workers(t, rtAuth).target()
	breakOne(t, tg, "delivery-worker", &verifytest.Breakage{AddToken: authToken}) // as if it ignored the token
	o := routeOpts(t, tg)
	o.AuthToken = authToken
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

// The demo's limit verify meets first: the model limiter's 60. Its products
// take keys, so verify's requests pass their key's tier door (standard, 120 a
// minute), not DOOR_LIMITER (30, a public product's door).
var retryAfterRE = regexp.MustCompile(`^429 at request \d+ \(limit 60 per minute\), Retry-After \d+$`)

// The Workers' rate limiter answers 429 past the plan's limit; a Worker
// without one, or with a lower one, fails the check.
func TestRateLimit(t *testing.T) {
	w := workers(t, rtRateLimit) // this test spends its limiters
	run := func(breakage map[string]*verifytest.Breakage) *Report {
		tg := w.target()
		for product, b := range breakage {
			breakOne(t, tg, product, b)
		}
		o := routeOpts(t, tg)
		if breakage != nil {
			// The limiters are spent: the job and cache checks fail; do not
			// wait long for them.
			o.Timeout = 2 * time.Second
		}
		o.CheckRateLimit = true
		o.Products = []string{"sales-engine", "ai-relay", "email-worker"}
		rep, err := Run(testCtx(t), o)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := run(nil)
	for _, product := range []string{"sales-engine", "ai-relay"} {
		c := find(t, rep, product, CheckRateLimit)
		if c.Status != Pass || !retryAfterRE.MatchString(c.Detail) {
			t.Errorf("%s: %+v", product, c)
		}
	}
	if got := names(rep, "email-worker"); strings.Contains(strings.Join(got, ","), CheckRateLimit) {
		t.Errorf("async-pipeline got a rate-limit check: %v", got)
	}
	if !rep.Passed {
		t.Errorf("failed: %+v", rep.Failed())
	}
	// The limiters are spent now; the proxy answers as Workers without one,
	// or with a limit of 20, would.
	rep = run(map[string]*verifytest.Breakage{"sales-engine": {RateLimitAt: -1}, "ai-relay": {RateLimitAt: 20}})
	if d := find(t, rep, "sales-engine", CheckRateLimit).Detail; d != "no 429 after 100 requests; the plan allows 60 per minute" {
		t.Errorf("no limiter: %q", d)
	}
	if d := find(t, rep, "ai-relay", CheckRateLimit).Detail; !strings.Contains(d, "429 already at request") {
		t.Errorf("limit too low: %q", d)
	}
}

func TestPollingIsBounded(t *testing.T) {
	tg := workers(t, rtDefault).target()
	stuck := &verifytest.Breakage{Stuck: true}
	breakOne(t, tg, "sales-engine", stuck)
	o := routeOpts(t, tg)
	ns := &noSleep{}
	o.Products, o.Sleep = []string{"sales-engine"}, ns.sleep
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
	if stuck.JobPolls() != 3 || ns.calls != 2 {
		t.Errorf("%d polls, %d pauses", stuck.JobPolls(), ns.calls)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("polling waited on the clock")
	}
}

func TestOptionErrors(t *testing.T) {
	if _, err := Run(testCtx(t), Options{}); err == nil {
		t.Error("no plan accepted")
	}
	o := routeOpts(t, Target{})
	o.Products = []string{"nope"}
	if _, err := Run(testCtx(t), o); err == nil || !strings.Contains(err.Error(), `no product "nope"`) {
		t.Errorf("unknown product: %v", err)
	}
	o.Products, o.SkipRoutes = nil, true
	if _, err := Run(testCtx(t), o); err != ErrNoChecks {
		t.Errorf("nothing to run: %v", err)
	}
}
