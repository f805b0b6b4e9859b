package reliability

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
)

// TestDemoCoalescedMisses: issue 22's goal, measured against the demo stack
// as `zerocost dev` runs it (the repository's Pulumi.demo.yaml, its settings
// and limits as they are): 200 identical questions sent to ai-relay at once
// make at most 5 model calls, and none of the requests that wait for a
// shared call is refused by the model limiter. The stand-in answers after
// 1 s, so that every request arrives while the first call is under way.
// Two waves: from 200 customers (a key each), where every request passes
// its own door; and from one customer (dev's key), whose own limit (its one
// door, the standard tier's: 120 a minute on the demo stack) admits up to
// 120 and refuses the rest, as it should, before any lookup. docs/BENCHMARKS.md records the numbers.
func TestDemoCoalescedMisses(t *testing.T) {
	const n = 200
	cl := newCalls()
	env, _ := start(t, repoRoot(t), "demo", devmodel.Options{Latency: time.Second, Observe: cl.observe})
	base := env.URL("ai-relay")
	run := fmt.Sprintf("%x", time.Now().UnixNano())
	keys := make([]string, n)
	for i := range keys {
		keys[i] = env.CustomerKey(t, "ai-relay", fmt.Sprintf("coalesce-%s-%d", run, i))
	}

	q := "What does a Worker's isolate share? " + run
	w := coalescedWave(t, env, base, q, keys, cl)
	if w.paid > 5 {
		t.Errorf("200 customers: %d paid model calls for %d identical questions, want at most 5", w.paid, n)
	}
	if w.modelRefused > 0 || w.statuses["200 MISS"] != n {
		t.Errorf("200 customers: %v, %d refused by the model limiter; want all %d answered 200 MISS", w.statuses, w.modelRefused, n)
	}

	q = "What does a Worker's isolate keep? " + run
	w = coalescedWave(t, env, base, q, make([]string, n), cl) // "": dev's key
	if w.paid > 5 || w.modelRefused > 0 || w.statuses["200 MISS"]+w.callerRefused != n || w.statuses["200 MISS"] == 0 {
		t.Errorf("one customer: %v, %d paid calls, %d refused by the model limiter; want MISSes and the caller's own limits' refusals only, at most 5 calls", w.statuses, w.paid, w.modelRefused)
	}
}

type coalesced struct {
	statuses     map[string]int
	paid         int
	modelRefused int
	// callerRefused: 429s of the caller's own limit, its one door (the
	// customer's tier; DOOR_LIMITER, doorLimitPerMinute, on a public
	// product), before any lookup
	callerRefused int
}

// coalescedWave asks q once per key, all at once (key "": the client's own,
// dev's key), and reports what came back and what the model was paid.
func coalescedWave(t *testing.T, env *Env, base, q string, keys []string, cl *calls) coalesced {
	t.Helper()
	out := make([]askResult, len(keys))
	began := time.Now()
	// One goroutine per question: all of them in flight at once.
	if errs := Parallel(deadline(t, time.Minute), len(keys), len(keys), func(i int) error {
		out[i] = askAs(t, env, base, q, keys[i])
		return nil
	}); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	took := time.Since(began)
	w := coalesced{statuses: map[string]int{}}
	misses, shared := 0, 0
	for _, r := range out {
		k := fmt.Sprintf("%d %s", r.status, r.cache)
		if r.status != 200 {
			k = fmt.Sprintf("%d %s", r.status, r.code)
			switch {
			case strings.Contains(r.message, "rate limit reached for"):
				w.modelRefused++
			case strings.Contains(r.message, "from this caller"), strings.Contains(r.message, "tier's requests a minute"):
				w.callerRefused++ // the caller's door (a public product's, or the customer's tier's): its own limit
			}
		}
		w.statuses[k]++
		if r.status == 200 && r.cache == "MISS" {
			misses++
			if r.shared {
				shared++
			}
		}
	}
	var abandoned int
	w.paid, abandoned = cl.paid(q)
	callers := "one customer"
	if keys[0] != "" {
		callers = fmt.Sprintf("%d customers", len(keys))
	}
	t.Logf("%d identical questions at once from %s: %v in %s; %d MISS (%d shared another's call); %d paid model calls (%d abandoned 200s); %d refused by the caller's own door, %d by the model limiter",
		len(keys), callers, w.statuses, took.Round(time.Millisecond), misses, shared, w.paid, abandoned, w.callerRefused, w.modelRefused)
	return w
}

// askAs is ask with a customer's key ("": the client's own).
func askAs(t *testing.T, env *Env, base, q, key string) askResult {
	t.Helper()
	if key == "" {
		return ask(t, env, base, q)
	}
	return ask(t, env.as(key), base, q)
}
