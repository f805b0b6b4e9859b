package cost

import (
	"math"
	"strings"
	"testing"
)

func capacityOfProduct(t *testing.T, r *Report, name string) Capacity {
	t.Helper()
	for _, c := range r.Capacity {
		if c.Product == name {
			return c
		}
	}
	t.Fatalf("no capacity for %q in %+v", name, r.Capacity)
	return Capacity{}
}

// A pipeline job costs 3 Queues operations (send, delivery, ack), so the
// free 10,000 a day allow 3,333 jobs a day, whatever the traffic today.
func TestCapacityOfOneProduct(t *testing.T) {
	r := forecast(t, "free", "days = 30\n"+product("a", "async-pipeline", 3000, "polls_per_job = 2"))
	c := capacityOfProduct(t, r, "a")
	if !near(c.PerDay, 100) || !near(c.FreePerDay, 10000.0/3) || !near(c.Scale, 100.0/3) {
		t.Errorf("capacity %+v, want 100 a day today, 3,333 at $0, 33x", c)
	}
	if c.Limit == nil || c.Limit.Service != Queues || c.Limit.Metric != Operations || c.Limit.Kind != "daily" || c.Limit.Amount != 10000 {
		t.Errorf("limit %+v, want Queues operations, 10,000 a day", c.Limit)
	}
	stack := capacityOfProduct(t, r, "")
	if !near(stack.FreePerDay, c.FreePerDay) {
		t.Errorf("a one-product stack's capacity %v, want the product's", stack.FreePerDay)
	}
	if r := forecast(t, "paid", "days = 30\n"+product("a", "event-agent", 3000, "")); len(r.Capacity) != 0 {
		t.Errorf("capacity on Workers Paid: %+v", r.Capacity)
	}
}

// The stack shares the account's limits: two products that each fit alone
// may not fit together, and the stack's figure keeps their mix.
func TestCapacityOfTheStack(t *testing.T) {
	r := forecast(t, "free", "days = 30\n"+
		product("a", "async-pipeline", 60000, "polls_per_job = 0")+ // 2,000 jobs/day: 6,000 operations
		product("b", "async-pipeline", 40000, "polls_per_job = 0")) // 1,333 jobs/day: 4,000 operations
	stack := capacityOfProduct(t, r, "")
	if !near(stack.PerDay, 10000.0/3) || !near(stack.FreePerDay, 10000.0/3) || !near(stack.Scale, 1) {
		t.Errorf("stack %+v: 3,333 jobs a day make exactly 10,000 Queues operations", stack)
	}
	if a := capacityOfProduct(t, r, "a"); !near(a.Scale, 10000.0/6000) {
		t.Errorf("a alone: %+v, want 1.67x", a)
	}
}

// A monthly allowance is taken per day of a 30-day month: R2's 1M free
// Class A operations allow 33,333 writes a day.
func TestCapacityMonthlyAllowance(t *testing.T) {
	u := &Usage{Days: 30, Products: []ProductUsage{{Name: "p", Pattern: EventAgent, Requests: 30_000,
		Quantities: map[Meter]float64{{R2, ClassA}: 30_000, {Workers, Requests}: 30_000}}}}
	c := capacities(u, defaultPrices(t))
	if len(c) != 2 || c[0].Limit == nil || c[0].Limit.Service != R2 || c[0].Limit.Kind != "monthly" || !near(c[0].FreePerDay, 1e6/30) {
		t.Errorf("capacities %+v, want R2 Class A at 33,333 a day", c)
	}
}

// Capacity is where the warnings start: the demo profile scaled to its
// capacity warns about nothing, and 2% more breaks exactly the named limit.
func TestCapacityIsWhereWarningsStart(t *testing.T) {
	prof := demoProfile(t)
	p := defaultPrices(t)
	r, err := Forecast(prof, p, Free)
	if err != nil {
		t.Fatal(err)
	}
	stack := capacityOfProduct(t, r, "")
	scaled := func(k float64) *Report {
		t.Helper()
		cp := *prof
		cp.Products = append([]ProductProfile(nil), prof.Products...)
		for i := range cp.Products {
			q := *cp.Products[i].Requests * k
			cp.Products[i].Requests = &q
		}
		r, err := Forecast(&cp, p, Free)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Issue 11's goal: the seed's stack at ten times its traffic costs $0 of
	// infrastructure on Workers Free and warns about nothing.
	// (The demo's model budgets do run out at ten times the traffic: that is
	// the spend guard at work, not a free-tier limit.)
	if x10 := scaled(10); x10.InfraUSD != 0 || len(freeTier(x10.Warnings)) != 0 {
		t.Errorf("demo x10: infrastructure $%v, warnings %q", x10.InfraUSD, freeTier(x10.Warnings))
	}
	at := scaled(stack.Scale * (1 - 1e-6))
	if w := freeTier(at.Warnings); len(w) != 0 {
		t.Errorf("at capacity (%.4gx): warnings %q", stack.Scale, w)
	}
	// Just over: the first limit warns, alone (R2 Class A operations, the
	// demo's next limit, follow within 0.1%).
	over := scaled(stack.Scale * 1.0005)
	label := meterLabel(Meter{stack.Limit.Service, stack.Limit.Metric})
	if w := freeTier(over.Warnings); len(w) != 1 || !strings.HasPrefix(w[0], label+":") {
		t.Errorf("0.05%% over capacity: warnings %q, want one about %s", w, label)
	}
	if got := capacityOfProduct(t, at, ""); math.Abs(got.Scale-1) > 1e-4 {
		t.Errorf("at capacity the headroom is %v, want 1", got.Scale)
	}
}

// freeTier drops the budget warnings (the spend guard's, not Workers Free's).
func freeTier(warnings []string) []string {
	var out []string
	for _, w := range warnings {
		if !strings.HasPrefix(w, "Budget: ") {
			out = append(out, w)
		}
	}
	return out
}

// Batch mode's poller runs all month whatever the traffic: capacity scales
// only what grows with the requests, so it is still exactly where the first
// warning starts.
func TestCapacityKeepsFixedCostsFixed(t *testing.T) {
	doc := "days = 30\n" + product("pipe", "async-pipeline", 3000, "polls_per_job = 0\nmessages_per_batch = 1\nmodel_mode = \"batch\"")
	prof, err := ParseProfile("t.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p := defaultPrices(t)
	at := func(k float64) *Report {
		t.Helper()
		cp := *prof
		cp.Products = append([]ProductProfile(nil), prof.Products...)
		q := *cp.Products[0].Requests * k
		cp.Products[0].Requests = &q
		r, err := Forecast(&cp, p, Free)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	c := capacityOfProduct(t, at(1), "pipe")
	// 3 queue operations a job: 3,333 jobs a day, the cron's runs aside.
	if c.Limit == nil || c.Limit.Service != Queues || !near(c.FreePerDay, 10000.0/3) {
		t.Fatalf("capacity %+v, limit %+v", c, c.Limit)
	}
	if w := freeTier(at(c.Scale * (1 - 1e-6)).Warnings); len(w) != 0 {
		t.Errorf("at capacity: %q", w)
	}
	if w := freeTier(at(c.Scale * 1.02).Warnings); len(w) != 1 || !strings.HasPrefix(w[0], "Queues operations:") {
		t.Errorf("2%% over: %q", w)
	}
	// The cron's 8,640 runs a month are in the product's quantities, and fixed.
	if u := FromProfile(prof); u.Products[0].Fixed[Meter{Workers, Requests}] != 8640 {
		t.Errorf("fixed %+v", u.Products[0].Fixed)
	}
}

// Jobs posted ten at a time travel in one queue message (jobs_per_request,
// contract.PackMaxJobs): 0.3 Queues operations a job instead of 3, so the
// pipeline's first limit moves to R2's Class A writes (two a job: the claim
// and the record, 1,000,000 a month): 16,667 jobs a day at $0.
func TestCapacityOfPackedJobs(t *testing.T) {
	one := capacityOfProduct(t, forecast(t, "free", "days = 30\n"+product("a", "async-pipeline", 3000, "polls_per_job = 2")), "a")
	same := capacityOfProduct(t, forecast(t, "free", "days = 30\n"+product("a", "async-pipeline", 3000, "polls_per_job = 2\njobs_per_request = 1")), "a")
	if !near(one.FreePerDay, same.FreePerDay) {
		t.Errorf("jobs_per_request = 1: %v a day, want today's %v", same.FreePerDay, one.FreePerDay)
	}
	c := capacityOfProduct(t, forecast(t, "free", "days = 30\n"+product("a", "async-pipeline", 3000, "polls_per_job = 2\njobs_per_request = 10")), "a")
	if !near(c.FreePerDay, 1e6/30/2) || c.Limit == nil || c.Limit.Service != R2 {
		t.Errorf("ten jobs a request: %+v (limit %+v), want 16,667 a day, R2 Class A first", c, c.Limit)
	}
	// 5% of attempts failing (the demo's email-worker): still over 10,000 a day.
	f := capacityOfProduct(t, forecast(t, "free", "days = 30\n"+product("a", "async-pipeline", 3000, "polls_per_job = 2\nretry_rate = 0.05\njobs_per_request = 10")), "a")
	if f.FreePerDay < 10000 {
		t.Errorf("ten jobs a request, 5%% retries: %v a day, want at least 10,000", f.FreePerDay)
	}
}

// The next limit is the one reached after the first, with why it binds (its
// use per request); the KV reads of key lookups, bounded by customers ×
// isolates × minutes, are never a limit while that bound stays under KV's.
func TestCapacityNextLimit(t *testing.T) {
	r := forecast(t, "free", "days = 30\n"+product("a", "async-pipeline", 3000, "polls_per_job = 2"))
	c := capacityOfProduct(t, r, "a")
	if c.Next == nil || c.Next.Service != R2 || c.Next.Metric != ClassA {
		t.Fatalf("next %+v, want R2 Class A operations (the claim and the record a job)", c.Next)
	}
	if !near(c.Limit.PerRequest, 3) || !near(c.Next.PerRequest, 2) || !near(c.NextFreePerDay, 1e6/30/2) {
		t.Errorf("limit %+v, next %+v at %v a day: want 3 Queues ops a job, then 2 Class A a job (16,667 jobs a day)", c.Limit, c.Next, c.NextFreePerDay)
	}
	for _, cap := range forecast(t, "free", "days = 30\n"+product("k", "event-agent", 3000, "polls_per_job = 2\naccess = \"keys\"\ncustomers = 2\nisolates = 2")).Capacity {
		for _, l := range []*CapacityLimit{cap.Limit, cap.Next} {
			if l != nil && l.Service == KV {
				t.Errorf("%q: KV reads as a limit (%+v), though 2 customers × 2 isolates read at most 5,760 a day", cap.Product, l)
			}
		}
	}
}
