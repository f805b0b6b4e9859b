package cost

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/stack"
)

func defaultPrices(t *testing.T) *Prices {
	t.Helper()
	p, err := DefaultPrices()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func forecast(t *testing.T, plan, doc string) *Report {
	t.Helper()
	prof, err := ParseProfile("t.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Forecast(prof, defaultPrices(t), plan)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// item finds a product's item; missing items read as zero.
func item(r *Report, product, service, metric string) Item {
	for _, p := range r.Products {
		if p.Name != product {
			continue
		}
		for _, it := range p.Items {
			if it.Service == service && it.Metric == metric {
				return it
			}
		}
	}
	return Item{}
}

func wantQty(t *testing.T, r *Report, product, service, metric string, want float64) {
	t.Helper()
	if got := item(r, product, service, metric).Quantity; !near(got, want) {
		t.Errorf("%s %s %s: quantity %v, want %v", product, service, metric, got, want)
	}
}

func product(name, pattern string, requests float64, extra string) string {
	return fmt.Sprintf("[[product]]\nname = %q\npattern = %q\nrequests = %v\ninput_tokens = 400\noutput_tokens = 100\n%s\n", name, pattern, requests, extra)
}

func TestEventAgentCounts(t *testing.T) {
	r := forecast(t, Free, product("agent", EventAgent, 300, "runner = \"waitUntil\"\npolls_per_job = 2\nresult_bytes = 1000\ncpu_ms = 3"))
	wantQty(t, r, "agent", Workers, Requests, 900) // POST + 2 polls
	wantQty(t, r, "agent", Workers, CPUms, 2700)
	wantQty(t, r, "agent", KV, Writes, 0)   // no KV: "queued" is proven by the signed id
	wantQty(t, r, "agent", R2, ClassA, 300) // the job record (result or error)
	wantQty(t, r, "agent", R2, ClassB, 600) // each poll reads the record
	// Steady state: (7 days of retention + the day R2's deletion lags) of
	// the 10 records written a day.
	wantQty(t, r, "agent", R2, Storage, 8*10*(1000+RecordOverhead)/1e9)
	wantQty(t, r, "agent", Analytics, DataPoints, 300)
	wantQty(t, r, "agent", Model, InputTokens, 120000)
	wantQty(t, r, "agent", Model, OutputTokens, 30000)
	// 300 calls x (400 x $1 + 100 x $5) per million tokens.
	if !near(r.AIUSD, 300*0.0009) || r.InfraUSD != 0 || !near(r.TotalUSD, 0.27) {
		t.Errorf("totals: infra %v, ai %v, total %v", r.InfraUSD, r.AIUSD, r.TotalUSD)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings: %v", r.Warnings)
	}
	// No polls: no reads.
	r = forecast(t, Free, product("agent", EventAgent, 300, "runner = \"waitUntil\"\npolls_per_job = 0"))
	wantQty(t, r, "agent", R2, ClassB, 0)
	wantQty(t, r, "agent", Workers, Requests, 300)

	// runner = "workflow" (the default): each job's instance is one more
	// execution, counted with the Workers' requests; the same record, reads
	// and model calls. 25,000 jobs a day with two polls each are Workers
	// Free's 100,000 requests a day: POST, execution, two polls.
	r = forecast(t, Free, product("agent", EventAgent, 300, "polls_per_job = 2\ncpu_ms = 3"))
	wantQty(t, r, "agent", Workers, Requests, 1200) // POST + execution + 2 polls
	wantQty(t, r, "agent", R2, ClassA, 300)
	wantQty(t, r, "agent", R2, ClassB, 600)
	wantQty(t, r, "agent", Analytics, DataPoints, 300)
	if _, err := ParseProfile("x.toml", []byte(product("p", AsyncPipeline, 1, "runner = \"workflow\""))); err == nil || !strings.Contains(err.Error(), "applies to event-agent only") {
		t.Errorf("runner on a pipeline: %v", err)
	}
}

func TestAsyncPipelineCounts(t *testing.T) {
	r := forecast(t, Free, product("pipe", AsyncPipeline, 1000, "polls_per_job = 1\nretry_rate = 0.1\ndead_letter_rate = 0.02\nmessages_per_batch = 2"))
	// 980 deliveries that end done, 100 failed attempts, 20 dead letters.
	wantQty(t, r, "pipe", Workers, Requests, 1000+1000+(980+100+20)/2.0) // POST, polls, consumer batches
	wantQty(t, r, "pipe", KV, Writes, 0)
	wantQty(t, r, "pipe", R2, ClassB, 980+100+20+1000)             // each delivery and dead letter reads the record; polls
	wantQty(t, r, "pipe", R2, ClassA, 2*980+2*100+2*20)            // claims and done records, claims and errors kept on failed attempts, dead records and their held/ copies
	wantQty(t, r, "pipe", Queues, Operations, 1000+980*2+100+20*3) // send; read+delete per success; a read per failed attempt; DLQ move+read+delete
	wantQty(t, r, "pipe", Analytics, DataPoints, 980)
	if got := r.Products[0].ModelCalls; got != 980 {
		t.Errorf("model calls %v, want 980 (failed attempts and dead jobs bill none)", got)
	}
}

// Ten jobs a POST (jobs_per_request) travel in one message: the Queues
// operations are per message, the rest per job; a failed attempt retries
// its message (one read), whose redelivery reads the nine other records.
func TestAsyncPipelinePackedCounts(t *testing.T) {
	r := forecast(t, Free, product("pipe", AsyncPipeline, 1000, "polls_per_job = 1\nretry_rate = 0.1\ndead_letter_rate = 0.02\nmessages_per_batch = 2\njobs_per_request = 10\naccess = \"public\""))
	// 100 POSTs and messages; 980 done, 80 failed attempts retried, 20 dead (their last attempt).
	wantQty(t, r, "pipe", Workers, Requests, 100+1000+(100+80)/2.0) // POSTs, polls, consumer batches
	wantQty(t, r, "pipe", R2, ClassB, 980+80+80*9+2*20+1000)        // each job's read, the siblings' reads per retry, dead jobs' two reads; polls
	wantQty(t, r, "pipe", R2, ClassA, 2*980+2*80+4*20)              // claims and records; dead: the claim, the error, the dead record and its held/ copy
	wantQty(t, r, "pipe", Queues, Operations, 100*3+80)             // write+read+delete per message; a redelivery read per failed attempt
	wantQty(t, r, "pipe", Analytics, DataPoints, 980)
	// Eleven jobs a POST: two messages each.
	r = forecast(t, Free, product("pipe", AsyncPipeline, 1100, "polls_per_job = 0\njobs_per_request = 11\naccess = \"public\""))
	wantQty(t, r, "pipe", Queues, Operations, 200*3)
}

func TestEdgeCacheCounts(t *testing.T) {
	r := forecast(t, Free, product("relay", EdgeCache, 10000, "cache_hit_rate = 0.75\nresult_bytes = 1000"))
	wantQty(t, r, "relay", Workers, Requests, 10000)
	// access = keys (the default): 10 customers × 3 isolates read their key
	// at most once a minute each, more than 10,000 questions a month need,
	// so every question is a lookup.
	wantQty(t, r, "relay", KV, Reads, 10000)
	wantQty(t, r, "relay", KV, Writes, 0)
	wantQty(t, r, "relay", R2, ClassA, 2500)  // a miss stores its answer
	wantQty(t, r, "relay", R2, ClassB, 10000) // every question reads R2 (no Cache API on workers.dev)
	// The 24 h TTL rounds to a day, plus the day R2's deletion lags, of the
	// 2500/30 answers stored a day.
	wantQty(t, r, "relay", R2, Storage, 2*2500.0/30*1000/1e9)
	wantQty(t, r, "relay", Model, InputTokens, 2500*400)
	p := r.Products[0]
	if p.ModelCalls != 2500 || p.CacheHitRate == nil || *p.CacheHitRate != 0.75 {
		t.Errorf("calls %v, hit rate %v", p.ModelCalls, p.CacheHitRate)
	}
	// The 7,500 hits would have cost 7,500 calls at $0.0009.
	if !near(p.CacheSavingsUSD, 6.75) || !near(r.CacheSavingsUSD, 6.75) {
		t.Errorf("cache savings %v, want 6.75", p.CacheSavingsUSD)
	}
	// A 100% hit rate makes no calls and saves every one.
	r = forecast(t, Free, product("relay", EdgeCache, 1000, "cache_hit_rate = 1"))
	if r.AIUSD != 0 || !near(r.CacheSavingsUSD, 0.9) {
		t.Errorf("all hits: ai %v, savings %v", r.AIUSD, r.CacheSavingsUSD)
	}
}

// The forecast's ops are the contract's: each event's count times its ops,
// so a change to internal/contract's table moves the forecast with it.
func TestForecastPricesTheContractTable(t *testing.T) {
	p, err := ParseProfile("t.toml", []byte(product("pipe", AsyncPipeline, 3000, "polls_per_job = 2\nretry_rate = 0.2\ndead_letter_rate = 0.1\nmessages_per_batch = 5")+
		product("agent", EventAgent, 900, "polls_per_job = 3")+product("relay", EdgeCache, 6000, "cache_hit_rate = 0.5")))
	if err != nil {
		t.Fatal(err)
	}
	u := FromProfile(p)
	for i, pu := range u.Products {
		want := map[Meter]float64{}
		for ev, n := range EventsPerMonth(p, &p.Products[i]) {
			for op, k := range contract.EventOps(pu.Pattern, ev) {
				if m, ok := opMeters[op]; ok {
					want[m] += n * float64(k)
				}
			}
		}
		for m, w := range want {
			if !near(pu.Quantities[m], w) {
				t.Errorf("%s %s: %v, want %v", pu.Name, m, pu.Quantities[m], w)
			}
		}
	}
}

// Exactly 10,000 Queues operations a day passes on Workers Free; 10,001
// warns. A pipeline job without retries or polls costs 3: the send, the
// delivery, the ack.
func TestDailyLimitEdge(t *testing.T) {
	r := forecast(t, Free, product("pipe", AsyncPipeline, 100000, "polls_per_job = 0"))
	if len(r.Warnings) != 0 {
		t.Errorf("10,000 operations/day warned: %v", r.Warnings)
	}
	if !near(limitUse(r, Queues, Operations), 1) {
		t.Errorf("free limits: %+v", r.FreeLimits)
	}
	r = forecast(t, Free, product("pipe", AsyncPipeline, 100010, "polls_per_job = 0"))
	if len(r.Warnings) != 1 {
		t.Fatalf("10,001 operations/day: warnings %v", r.Warnings)
	}
	w := r.Warnings[0]
	for _, s := range []string{"Queues operations: 10,001/day", "against Workers Free's 10,000/day", "over the limit every day",
		"at about 23:59 UTC", "~1 operations a day fail", "On Workers Paid: 300,030 operations a month, within the 1,000,000 included: +$0.00"} {
		if !strings.Contains(w, s) {
			t.Errorf("warning does not say %q:\n%s", s, w)
		}
	}
}

func limitUse(r *Report, service, metric string) float64 {
	for _, l := range r.FreeLimits {
		if l.Service == service && l.Metric == metric {
			return l.Use
		}
	}
	return -1
}

// Daily limits are the account's: two pipelines of 5,000 Queues operations
// a day each reach 10,000 together.
func TestDailyLimitsAreSummedOverTheAccount(t *testing.T) {
	a := product("a", AsyncPipeline, 50000, "polls_per_job = 0")
	if r := forecast(t, Free, a+product("b", AsyncPipeline, 50000, "polls_per_job = 0")); len(r.Warnings) != 0 || !near(limitUse(r, Queues, Operations), 1) {
		t.Errorf("5,000 + 5,000 operations/day: %v, use %v", r.Warnings, limitUse(r, Queues, Operations))
	}
	r := forecast(t, Free, a+product("b", AsyncPipeline, 50010, "polls_per_job = 0"))
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "10,001/day on the account (b 5,001, a 5,000)") {
		t.Errorf("5,000 + 5,001 operations/day: %v", r.Warnings)
	}
}

func TestWorkersAndQueuesLimits(t *testing.T) {
	// 3,000,000 requests over 30 days: 100,000 a day passes; the KV writes do not.
	r := forecast(t, Free, product("relay", EdgeCache, 3000000, "cache_hit_rate = 1"))
	for _, w := range r.Warnings {
		if strings.HasPrefix(w, "Workers requests") {
			t.Errorf("100,000 requests/day warned: %s", w)
		}
	}
	r = forecast(t, Free, product("relay", EdgeCache, 3000030, "cache_hit_rate = 1"))
	if !hasWarning(r, "Workers requests: 100,001/day") {
		t.Errorf("100,001 requests/day: %v", r.Warnings)
	}
	// 100,000 messages over 30 days: 3 operations each is 10,000 a day.
	r = forecast(t, Free, product("pipe", AsyncPipeline, 100000, "polls_per_job = 0"))
	if hasWarning(r, "Queues operations") {
		t.Errorf("10,000 queue operations/day warned: %v", r.Warnings)
	}
	r = forecast(t, Free, product("pipe", AsyncPipeline, 100010, "polls_per_job = 0"))
	if !hasWarning(r, "Queues operations: 10,001/day") {
		t.Errorf("10,001 queue operations/day: %v", r.Warnings)
	}
}

func hasWarning(r *Report, prefix string) bool {
	for _, w := range r.Warnings {
		if strings.HasPrefix(w, prefix) {
			return true
		}
	}
	return false
}

func TestDailyLimitWarningText(t *testing.T) {
	// 4,000,000 questions a month, all hits: 133,333 Workers requests a day
	// against 100,000; on Workers Paid within the 10,000,000 included.
	r := forecast(t, Free, product("relay", EdgeCache, 60000, "cache_hit_rate = 1")+
		product("big", EdgeCache, 3940000, "cache_hit_rate = 1"))
	w := ""
	for _, x := range r.Warnings {
		if strings.HasPrefix(x, "Workers requests") {
			w = x
		}
	}
	for _, s := range []string{"133,333/day on the account (big 131,333, relay 2,000)", "at about 18:00 UTC", "~33,333 requests a day fail",
		"about 500 relay, 32,833 big requests a day", "4,000,000 requests a month, within the 10,000,000 included: +$0.00"} {
		if !strings.Contains(w, s) {
			t.Errorf("warning does not say %q:\n%s", s, w)
		}
	}
}

func TestPaidPlanOverage(t *testing.T) {
	// Queues: 2,000,000 jobs make 6,000,000 operations, 5,000,000 past the
	// 1,000,000 included at $0.40/M.
	r := forecast(t, Paid, product("pipe", AsyncPipeline, 2000000, "polls_per_job = 0\ncpu_ms = 0"))
	it := item(r, "pipe", Queues, Operations)
	if !near(it.Quantity, 6e6) || !near(it.Billable, 5e6) || !near(it.USD, 2) || !near(it.UnitUSD, 4e-7) {
		t.Errorf("Queues operations: %+v", it)
	}
	// 4,000,000 Workers requests are within the 10,000,000 included.
	if it := item(r, "pipe", Workers, Requests); it.USD != 0 || it.Billable != 0 {
		t.Errorf("Workers requests: %+v", it)
	}
	// Included amounts are the account's, shared in proportion: two
	// pipelines of 1,500,000 operations each get half of the 2,000,000 billed.
	r = forecast(t, Paid, product("a", AsyncPipeline, 500000, "polls_per_job = 0")+product("b", AsyncPipeline, 500000, "polls_per_job = 0"))
	if a, b := item(r, "a", Queues, Operations), item(r, "b", Queues, Operations); !near(a.USD, 0.4) || !near(b.USD, 0.4) {
		t.Errorf("shared overage: a %+v, b %+v", a, b)
	}
	// Workers: 12,000,000 requests, 2,000,000 past the included at $0.30/M;
	// 24,000,000 CPU-ms are within the 30,000,000 included.
	r = forecast(t, Paid, product("relay", EdgeCache, 12000000, "cache_hit_rate = 1\ncpu_ms = 2"))
	if it := item(r, "relay", Workers, Requests); !near(it.USD, 0.6) {
		t.Errorf("Workers requests: %+v", it)
	}
	if it := item(r, "relay", Workers, CPUms); it.USD != 0 {
		t.Errorf("Workers CPU: %+v", it)
	}
	// Queues: 1,500,000 operations, 500,000 past the included at $0.40/M.
	r = forecast(t, Paid, product("pipe", AsyncPipeline, 500000, "polls_per_job = 0"))
	if it := item(r, "pipe", Queues, Operations); !near(it.Quantity, 1.5e6) || !near(it.USD, 0.2) {
		t.Errorf("Queues: %+v", it)
	}
	if r.OtherPlan == nil || r.OtherPlan.Plan != Free {
		t.Errorf("other plan %+v", r.OtherPlan)
	}
}

// R2's free allowance is monthly and billed past on every plan: the warning
// says on which day of the month it runs out.
func TestR2AllowanceRunsOut(t *testing.T) {
	// 1,200,000 results a month: 40,000 Class A a day, the 1,000,000 are used up on day 25.
	r := forecast(t, Free, product("agent", EventAgent, 1200000, "polls_per_job = 0\nresult_bytes = 0"))
	it := item(r, "agent", R2, ClassA)
	if !near(it.Billable, 200000) || !near(it.USD, 0.9) {
		t.Errorf("R2 Class A: %+v", it)
	}
	if !hasWarning(r, "R2 Class A operations: 1,200,000 Class A operations a month on the account (agent 1,200,000) against 1,000,000 Class A operations free a month: the allowance runs out on day 25 of each month; the remaining 200,000 Class A operations cost $0.90") {
		t.Errorf("warnings: %v", r.Warnings)
	}
	if !near(r.InfraUSD, 0.9) {
		t.Errorf("free-plan infra %v, want the R2 overage 0.90", r.InfraUSD)
	}
}

func TestCPUAndStorageCaps(t *testing.T) {
	r := forecast(t, Free, product("slow", EventAgent, 10, "cpu_ms = 12"))
	if !hasWarning(r, "Workers CPU: slow's invocations use about 12 ms of CPU, over Workers Free's 10 ms") {
		t.Errorf("warnings: %v", r.Warnings)
	}
	// No pattern stores in KV any more; a measured report can still show a
	// KV namespace of an older deployment past Workers Free's 1 GB.
	u := &Usage{Days: 30, Products: []ProductUsage{{Name: "old", Pattern: EdgeCache, Requests: 1,
		Quantities: map[Meter]float64{{KV, Storage}: 3.02}}}}
	rep, err := Price(u, defaultPrices(t), Free)
	if err != nil {
		t.Fatal(err)
	}
	if !hasWarning(rep, "KV storage: 3.02 GB-month on the account (old 3.02 GB-month) against Workers Free's 1 GB-month: writes fail once it is full.") {
		t.Errorf("warnings: %v", rep.Warnings)
	}
}

func TestLevers(t *testing.T) {
	// Below Haiku 4.5's 4,096-token minimum: does not apply.
	r := forecast(t, Free, product("agent", EventAgent, 1000, "cached_prefix_tokens = 300"))
	if len(r.Levers) != 1 || r.Levers[0].Applies || !strings.Contains(r.Levers[0].Note, "does not apply: the shared prefix (300 tokens) is below claude-haiku-4-5's minimum of 4,096") {
		t.Errorf("levers %+v", r.Levers)
	}
	// 864,000 calls in 30 days (one every 3 s): the cache stays warm, one write.
	doc := strings.Replace(product("agent", EventAgent, 864000, "cached_prefix_tokens = 5000"), "input_tokens = 400", "input_tokens = 6000", 1)
	r = forecast(t, Free, doc)
	want := 864000*5000*1e-6 - 5000*(1.25e-6+863999*0.1e-6)
	if l := r.Levers[0]; !l.Applies || math.Abs(l.SavingUSD-want) > 1e-6 || !strings.Contains(l.Note, "about 100% of calls") {
		t.Errorf("warm cache: %+v, want saving %v", l, want)
	}
	// Sonnet 4.5's minimum is 1,024 tokens.
	doc = strings.Replace(product("agent", EventAgent, 864000, "cached_prefix_tokens = 2000\nmodel = \"claude-sonnet-4-5\""), "input_tokens = 400", "input_tokens = 3000", 1)
	if l := forecast(t, Free, doc).Levers[0]; !l.Applies {
		t.Errorf("sonnet: %+v", l)
	}
	// One call a day: nearly every call writes the cache, which costs more.
	doc = strings.Replace(product("agent", EventAgent, 30, "cached_prefix_tokens = 5000"), "input_tokens = 400", "input_tokens = 6000", 1)
	if l := forecast(t, Free, doc).Levers[0]; l.Applies || l.SavingUSD >= 0 || !strings.Contains(l.Note, "would cost $") {
		t.Errorf("sparse calls: %+v", l)
	}
	// The Batch API halves the pipeline's model bill.
	r = forecast(t, Free, product("pipe", AsyncPipeline, 2400, ""))
	if l := r.Levers[0]; l.Lever != "batch_api" || !near(l.SavingUSD, r.AIUSD/2) || !near(l.SavingUSD, 2400*0.0009/2) {
		t.Errorf("batch: %+v (ai %v)", l, r.AIUSD)
	}
}

func TestUnknownModel(t *testing.T) {
	prof, err := ParseProfile("t.toml", []byte(product("agent", EventAgent, 1, `model = "claude-haiku-3-5"`)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Forecast(prof, defaultPrices(t), "")
	if err == nil || !strings.Contains(err.Error(), `unknown model "claude-haiku-3-5"`) || !strings.Contains(err.Error(), "claude-haiku-4-5, claude-sonnet-4-5") {
		t.Errorf("got %v", err)
	}
}

func TestPlanOverride(t *testing.T) {
	doc := "plan = \"paid\"\n" + product("agent", EventAgent, 1, "")
	if r := forecast(t, "", doc); r.Plan != Paid || r.OtherPlan.Plan != Free {
		t.Errorf("profile plan: %v", r.Plan)
	}
	if r := forecast(t, Free, doc); r.Plan != Free {
		t.Errorf("--plan free: %v", r.Plan)
	}
}

// TestStorageFollowsTheStacksRetention: R2 storage is (retention + 1 day) ×
// what a day writes, from the stack's settings, never from the profile.
func TestStorageFollowsTheStacksRetention(t *testing.T) {
	prof, err := ParseProfile("u.toml", []byte(product("pipe", AsyncPipeline, 3000, "result_bytes = 750\ndead_letter_rate = 0.1")+
		product("relay", EdgeCache, 3000, "cache_hit_rate = 0.5\nresult_bytes = 1000")))
	if err != nil {
		t.Fatal(err)
	}
	prof.Products[0].Retention = stack.Settings{RetentionDays: 45}
	prof.Products[1].Retention = stack.Settings{CacheTTLSeconds: 3 * 86400}
	r, err := Forecast(prof, defaultPrices(t), Free)
	if err != nil {
		t.Fatal(err)
	}
	// 100 jobs a day of 1000 bytes kept 45 days + 1 under jobs/; the 10
	// dead also under held/, as long (held/ keeps max(31, retention)).
	wantQty(t, r, "pipe", R2, Storage, (100*46+10*46)*1000/1e9)
	// 50 misses a day, kept 3 days + 1.
	wantQty(t, r, "relay", R2, Storage, 50*4*1000/1e9)
	if _, err := ParseProfile("u.toml", []byte("retention_months = 12\n"+product("a", EventAgent, 1, ""))); err == nil || !strings.Contains(err.Error(), "retention_months: removed") {
		t.Errorf("retention_months: %v", err)
	}
}
