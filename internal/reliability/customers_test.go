package reliability

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/apikeys"
	"github.com/zerocost/zerocost/internal/devmodel"
)

// customerRun is what one customer's requests got.
type customerRun struct {
	name    string
	key     string
	ok      int            // 200s
	misses  int            // 200 MISSes that were not shared: the model calls paid for this customer
	refused map[string]int // "status code" -> count
	// the index of the first 429 budget_exhausted (budgeted) or 401 (revoked); -1: none
	firstRefusal int
	after        []int // statuses after the first refusal
}

func (c *customerRun) note(i int, r askResult) {
	switch {
	case r.status == 200:
		c.ok++
		if r.cache == "MISS" && !r.shared {
			c.misses++
		}
	default:
		c.refused[fmt.Sprintf("%d %s", r.status, r.code)]++
	}
	if c.firstRefusal >= 0 {
		c.after = append(c.after, r.status)
	} else if r.status != 200 {
		c.firstRefusal = i
	}
}

// TestCustomers: 20 customers in parallel on one keyed product. One has a
// small monthly budget and runs out of it (429 budget_exhausted, scope
// customer); one is revoked mid-run through the same client as `zerocost
// keys revoke --local`, and the test waits for its 401 with a deadline
// (the local bound: the isolate's 60 s key cache). Nobody else gets a 429
// or a 401, nothing is lost (every request answered), and the
// customer_spend rows in D1 count each customer's model calls exactly.
func TestCustomers(t *testing.T) {
	const customers = 20
	k := Size(8, 40) // requests per customer before the revocation is seen
	// The cache suite's stack: one keyed edge cache with no budget of its
	// own. The spend store is there because the product has keys, so the
	// customers' budgets (set on their keys, as `zerocost keys create
	// --monthly-budget-usd` does) are enforced and every customer's calls
	// are counted in customer_spend.
	dir := project(t, "rel", cacheStack, nil)
	env, _ := start(t, dir, "rel", devmodel.Options{Latency: 20 * time.Millisecond})
	base := env.URL("relay")
	keys := env.Keys(t, "relay")
	run := fmt.Sprintf("%x", time.Now().UnixNano())

	// The stand-in's reply costs about $0.00012 (claude-haiku-4-5): $0.0005 is a few calls.
	const budgetUSD = 0.0005
	runs := make([]*customerRun, customers)
	for i := range runs {
		name := fmt.Sprintf("c%02d-%s", i, run)
		p := apikeys.CreateParams{Customer: name}
		if i == 0 {
			b := budgetUSD
			p.MonthlyBudgetUSD = &b
		}
		iss, err := keys.Create(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = &customerRun{name: name, key: iss.Key, refused: map[string]int{}, firstRefusal: -1}
	}
	budgeted, revoked := runs[0], runs[1]

	m := &customerMix{t: t, env: env, base: base, keys: keys, revoked: revoked, k: k, ctx: deadline(t, 4*time.Minute)}
	var wg sync.WaitGroup
	for _, c := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.customer(c)
		}()
	}
	wg.Wait()
	if !m.seen.Load() {
		t.Fatalf("the revoked customer was never refused (deadline); it got %+v", revoked)
	}
	t.Logf("revoked key refused %.1f s after the revocation (bound: 60 s, the isolate's key cache)", m.revokedIn.Seconds())
	if m.revokedIn > 62*time.Second {
		t.Errorf("the revocation took %s, over the 60 s bound", m.revokedIn)
	}
	checkCustomerRuns(t, runs, budgeted, revoked, k)
	checkCustomerRows(t, env, runs, budgeted, budgetUSD)
}

// customerMix runs the customers' requests of TestCustomers.
type customerMix struct {
	t         *testing.T
	env       *Env
	base      string
	keys      *apikeys.Keys
	revoked   *customerRun
	k         int
	ctx       context.Context
	seen      atomic.Bool // the revoked customer got its 401
	revokedAt time.Time   // set before seen, read after it
	revokedIn time.Duration
}

// customer sends c's requests: the revoked customer until its key is
// refused (revoked after its third request; then one HIT every 100 ms, the
// wait on the event); the others at least k times and, paced, until then.
func (m *customerMix) customer(c *customerRun) {
	for n := 0; m.ctx.Err() == nil; n++ {
		revoked := c == m.revoked
		if !revoked && n >= m.k && (m.seen.Load() || !m.pause(500*time.Millisecond)) {
			return
		}
		q := fmt.Sprintf("customer %s question %d", c.name, n)
		if revoked && n > 2 {
			q = fmt.Sprintf("customer %s question 2", c.name) // a HIT: the key check alone, no model call
			if !m.pause(100 * time.Millisecond) {
				return
			}
		}
		r := askWith(m.t, m.env, m.base, c.key, q)
		c.note(n, r)
		if !revoked {
			continue
		}
		if n == 2 {
			m.revokedAt = time.Now()
			if _, err := m.keys.Revoke(m.t.Context(), apikeys.RevokeParams{Customer: c.name}); err != nil {
				m.t.Errorf("revoke: %v", err)
				return
			}
		}
		if r.status == 401 && !m.seen.Load() {
			m.revokedIn = time.Since(m.revokedAt)
			m.seen.Store(true)
		}
		if m.seen.Load() && len(c.after) >= 3 {
			return
		}
	}
}

// pause waits d; false when the deadline came first.
func (m *customerMix) pause(d time.Duration) bool {
	select {
	case <-m.ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// askWith is ask with a customer's key.
func askWith(t *testing.T, env *Env, base, key, question string) askResult {
	t.Helper()
	r, err := Do(NewClient(), http.MethodPost, base+"/ask", jsonBody(t, map[string]string{"input": question}),
		"Content-Type", "application/json", "Authorization", "Bearer "+key)
	if err != nil {
		t.Fatal(err)
	}
	out := askResult{status: r.Status, cache: r.Header.Get("x-cache"), shared: r.Header.Get("x-cache-shared") == "1"}
	if r.Status != 200 {
		code, err := errorShape(r.Body)
		if err != nil {
			t.Fatalf("%d: %v", r.Status, err)
		}
		out.code = code
	}
	return out
}

// checkCustomerRuns: the budgeted customer was refused 429 budget_exhausted
// for good once refused, the revoked one 401 for good, everybody else served.
func checkCustomerRuns(t *testing.T, runs []*customerRun, budgeted, revoked *customerRun, k int) {
	t.Helper()
	for _, c := range runs {
		switch c {
		case budgeted:
			if c.ok == 0 || c.firstRefusal < 0 || len(c.refused) != 1 || c.refused["429 budget_exhausted"] == 0 {
				t.Errorf("budgeted customer: %d served, refusals %v (want some served, then only 429 budget_exhausted)", c.ok, c.refused)
			}
			for _, s := range c.after {
				if s != 429 {
					t.Errorf("budgeted customer: a %d after its budget ran out", s)
				}
			}
		case revoked:
			if len(c.refused) != 1 || c.refused["401 invalid_key"] == 0 {
				t.Errorf("revoked customer: refusals %v (want only 401 invalid_key)", c.refused)
			}
			for _, s := range c.after {
				if s != 401 {
					t.Errorf("revoked customer: a %d after its first 401", s)
				}
			}
		default:
			if len(c.refused) != 0 || c.ok < k {
				t.Errorf("customer %s: %d served, refused %v (want every request served, at least %d)", c.name, c.ok, c.refused, k)
			}
		}
	}
	t.Logf("budgeted customer: %d served, then %d refused; revoked customer: %d served before its 401", budgeted.ok, budgeted.refused["429 budget_exhausted"], revoked.ok)
}

// checkCustomerRows waits (with a deadline: each record lands in waitUntil
// after its answer) until customer_spend holds every customer's calls, then
// checks them: calls equal the customer's paid misses, tokens and nano-USD
// are positive, and the budgeted customer's spend passed its budget by at
// most one call (its requests come one at a time: the call in flight when
// the budget was reached).
func checkCustomerRows(t *testing.T, env *Env, runs []*customerRun, budgeted *customerRun, budgetUSD float64) {
	t.Helper()
	month := time.Now().UTC().Format("2006-01")
	want := map[string]int{}
	for _, c := range runs {
		want[c.name] = c.misses
	}
	ctx := deadline(t, 30*time.Second)
	var rows []map[string]any
	for {
		var err error
		rows, err = env.SpendRows("SELECT customer, nanos, calls, input_tokens, output_tokens FROM customer_spend WHERE month = ?1 AND product = ?2", month, "relay")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, r := range rows {
			got[fmt.Sprint(r["customer"])] = int(num(r["calls"]))
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("customer_spend calls %v, want the paid misses %v", got, want)
		case <-time.After(200 * time.Millisecond):
		}
	}
	for _, r := range rows {
		if num(r["nanos"]) <= 0 || num(r["input_tokens"]) <= 0 || num(r["output_tokens"]) <= 0 {
			t.Errorf("row %v: want nano-USD and tokens", r)
		}
		if r["customer"] != budgeted.name {
			continue
		}
		nanos, calls := num(r["nanos"]), num(r["calls"])
		budget := budgetUSD * 1e9
		over := nanos - budget
		t.Logf("budgeted customer: %.0f nano-USD in %.0f calls against a budget of %.0f (over by %.0f)", nanos, calls, budget, over)
		if nanos < budget || over > nanos/calls {
			t.Errorf("budgeted customer spent %.0f nano-USD against %.0f: want at least the budget, over by at most one call (%.0f)", nanos, budget, nanos/calls)
		}
	}
}

// num reads a JSON number.
func num(v any) float64 {
	f, _ := v.(float64)
	return f
}
