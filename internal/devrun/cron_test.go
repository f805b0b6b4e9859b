package devrun

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cronexpr"
	"github.com/zerocost/zerocost/internal/devrun/devruntest"
)

// fakeClock moves only when the test says so. After's channels fire when
// Advance passes their deadline; Waiting tells the test that the scheduler
// is waiting on one (so an Advance is never lost to a race).
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	waiting chan struct{}
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, waiting: make(chan struct{}, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	c.waiting <- struct{}{}
	return ch
}

// Advance moves the clock to t (never back) and fires the waiters due.
func (c *fakeClock) Advance(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			keep = append(keep, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = keep
}

// awaitWaiting blocks until the scheduler waits on the clock, or fails.
func (c *fakeClock) awaitWaiting(t *testing.T) {
	t.Helper()
	select {
	case <-c.waiting:
	case <-time.After(20 * time.Second):
		t.Fatal("the scheduler did not wait on the clock within 20 s")
	}
}

type firing struct {
	product string
	cron    string
	at      time.Time
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// The schedule fires each job at its minutes, by the clock; a jump fires a
// job once, for the latest minute missed; cancelling stops it.
func TestRunCronsFollowsTheClock(t *testing.T) {
	clock := newFakeClock(mustTime("2026-03-01T10:03:30Z"))
	jobs := []cronJob{
		{product: "a", sched: cronexpr.MustParse("*/5 * * * *")},
		{product: "b", sched: cronexpr.MustParse("0 * * * *")},
		{product: "c", sched: cronexpr.MustParse("0 0 30 2 *")}, // never
	}
	fired := make(chan firing, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runCrons(ctx, clock, jobs, func(_ context.Context, j cronJob, at time.Time) {
			fired <- firing{j.product, j.sched.String(), at}
		})
	}()
	expect := func(want ...string) {
		t.Helper()
		var got []string
		for range want {
			select {
			case f := <-fired:
				got = append(got, f.product+"@"+f.at.Format("15:04"))
			case <-time.After(20 * time.Second):
				t.Fatalf("fired %v, want %v", got, want)
			}
		}
		// Firings of one tick run concurrently: compare as sets.
		for _, w := range want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Fatalf("fired %v, want %v", got, want)
			}
		}
		select {
		case f := <-fired:
			t.Fatalf("fired %v too", f)
		default:
		}
	}

	clock.awaitWaiting(t)
	clock.Advance(mustTime("2026-03-01T10:04:59Z")) // not yet
	clock.Advance(mustTime("2026-03-01T10:05:00Z"))
	expect("a@10:05")
	clock.awaitWaiting(t)
	clock.Advance(mustTime("2026-03-01T10:10:00Z"))
	expect("a@10:10")
	// The machine sleeps past 11:00 and wakes at 11:17: each job fires once,
	// for its latest missed minute, then follows the schedule from now.
	clock.awaitWaiting(t)
	clock.Advance(mustTime("2026-03-01T11:17:00Z"))
	expect("a@11:15", "b@11:00")
	clock.awaitWaiting(t)
	clock.Advance(mustTime("2026-03-01T11:20:00Z"))
	expect("a@11:20")
	clock.awaitWaiting(t)
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("runCrons did not return after cancel")
	}
}

// The crons of the plan must parse; their errors name the product.
func TestCronJobs(t *testing.T) {
	jobs, err := cronJobs([]Product{{Name: "p", Script: "p-dev", Crons: []string{"*/5 * * * *", "0 0 * * mon"}}, {Name: "q"}})
	if err != nil || len(jobs) != 2 || jobs[0].script != "p-dev" || jobs[1].sched.String() != "0 0 * * mon" {
		t.Fatalf("%+v %v", jobs, err)
	}
	_, err = cronJobs([]Product{{Name: "p", Crons: []string{"* * * * 0"}}})
	if err == nil || !strings.Contains(err.Error(), "p: cron") || !strings.Contains(err.Error(), "1 = Sunday") {
		t.Errorf("%v", err)
	}
}

// In workerd: the schedule fires the product's scheduled handler with its
// cron and scheduled time (by the injected clock), TriggerCron runs it now,
// through the state file too, and a failing handler is an outcome, not an
// error.
func TestCronsFireInWorkerd(t *testing.T) {
	const token = "tok0123456789abcdef0123456789abcdef"
	dir := devruntest.CronProject(t, "* * * * *", token)
	toolsDir, _ := filepath.Abs(projectDir)
	start0 := mustTime("2030-01-01T08:00:10Z")
	clock := newFakeClock(start0)
	results := make(chan CronResult, 10)
	rt := start(t, Options{
		ProjectDir: dir, Stack: "cron", ToolsDir: toolsDir, DataDir: t.TempDir(), Log: newLog(t),
		FireCrons: true, Clock: clock,
		OnCron: func(r CronResult, err error) {
			if err != nil {
				t.Errorf("scheduled run: %v", err)
			}
			results <- r
		},
	})
	st := rt.State()
	if st.EntryURL == "" || st.Product("ticker").Script == "" || len(st.Product("ticker").Crons) != 2 || st.Product("quiet").Crons != nil {
		t.Fatalf("state: %+v", st)
	}

	calls := func(n int) []map[string]any {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			cs := rt.Model().Calls(token)
			if len(cs) >= n {
				var out []map[string]any
				for _, c := range cs {
					var body map[string]any
					_ = json.Unmarshal(c.Body, &body)
					msgs, _ := body["messages"].([]any)
					m0, _ := msgs[0].(map[string]any)
					text, _ := m0["content"].(string)
					var v map[string]any
					_ = json.Unmarshal([]byte(strings.TrimPrefix(text, token+" ")), &v)
					out = append(out, v)
				}
				return out
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d calls from the scheduled handler within 20 s, want %d", len(cs), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// 1. The schedule: the clock reaches 08:01, the every-minute cron fires.
	clock.awaitWaiting(t)
	clock.Advance(mustTime("2030-01-01T08:01:00Z"))
	select {
	case r := <-results:
		if !r.OK() || r.Product != "ticker" || r.Cron != "* * * * *" || !r.ScheduledTime.Equal(mustTime("2030-01-01T08:01:00Z")) {
			t.Errorf("scheduled run: %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no scheduled run within 30 s")
	}
	got := calls(1)
	if got[0]["cron"] != "* * * * *" || got[0]["at"] != float64(mustTime("2030-01-01T08:01:00Z").UnixMilli()) {
		t.Errorf("the handler saw %v", got[0])
	}

	// 2. On demand, through the state file as another process would.
	st2, err := ReadStateFile(rt.StatePath())
	if err != nil {
		t.Fatal(err)
	}
	rs, err := st2.TriggerCron(t.Context(), "ticker", "* * * * *")
	if err != nil || len(rs) != 1 || !rs[0].OK() {
		t.Fatalf("TriggerCron: %+v %v", rs, err)
	}
	if got := calls(2); got[1]["cron"] != "* * * * *" {
		t.Errorf("the handler saw %v", got[1])
	}
	// Every cron of the product: the failing one is an outcome.
	rs, err = rt.TriggerCron(t.Context(), "ticker", "")
	if err != nil || len(rs) != 2 || !rs[0].OK() || rs[1].OK() || rs[1].Outcome != "exception" {
		t.Fatalf("TriggerCron all: %+v %v", rs, err)
	}
	// Errors that name what is wrong.
	for _, c := range []struct{ product, cron, want string }{
		{"nope", "", `no product "nope" (it has ticker, quiet)`},
		{"quiet", "", "quiet has no cron triggers"},
		{"ticker", "*/7 * * * *", `ticker has no cron "*/7 * * * *"`},
	} {
		if _, err := st2.TriggerCron(t.Context(), c.product, c.cron); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: %v, want %q", c.product, c.cron, err, c.want)
		}
	}
	// Stop ends the schedule: no run after it.
	if err := rt.Stop(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(mustTime("2030-01-01T09:00:00Z"))
	select {
	case r := <-results:
		if r.OK() {
			t.Errorf("a scheduled run after Stop: %+v", r)
		}
	default:
	}
}
