package cost

import (
	"fmt"
	"math"
	"strings"
	"testing"
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
	r := forecast(t, Free, product("agent", EventAgent, 300, "polls_per_job = 2\nresult_bytes = 1000\ncpu_ms = 3"))
	wantQty(t, r, "agent", Workers, Requests, 900) // POST + 2 polls
	wantQty(t, r, "agent", Workers, CPUms, 2700)
	wantQty(t, r, "agent", KV, Writes, 600) // queued, done
	wantQty(t, r, "agent", KV, Reads, 600)  // one per poll
	wantQty(t, r, "agent", R2, ClassA, 300) // the result
	wantQty(t, r, "agent", R2, ClassB, 300) // the poll that finds it done
	wantQty(t, r, "agent", R2, Storage, 12*300*1000/1e9)
	wantQty(t, r, "agent", KV, Storage, 300.0/30*3600/86400*StatusBytes/1e9)
	wantQty(t, r, "agent", Model, InputTokens, 120000)
	wantQty(t, r, "agent", Model, OutputTokens, 30000)
	// 300 calls x (400 x $1 + 100 x $5) per million tokens.
	if !near(r.AIUSD, 300*0.0009) || r.InfraUSD != 0 || !near(r.TotalUSD, 0.27) {
		t.Errorf("totals: infra %v, ai %v, total %v", r.InfraUSD, r.AIUSD, r.TotalUSD)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings: %v", r.Warnings)
	}
	// No polls: no reads, no R2 get.
	r = forecast(t, Free, product("agent", EventAgent, 300, "polls_per_job = 0"))
	wantQty(t, r, "agent", KV, Reads, 0)
	wantQty(t, r, "agent", R2, ClassB, 0)
	wantQty(t, r, "agent", Workers, Requests, 300)
}

func TestAsyncPipelineCounts(t *testing.T) {
	r := forecast(t, Free, product("pipe", AsyncPipeline, 1000, "polls_per_job = 1\nretry_rate = 0.1\ndead_letter_rate = 0.02\nmessages_per_batch = 2"))
	// 1,100 deliveries (1,000 + 100 retries), 20 dead-lettered.
	wantQty(t, r, "pipe", Workers, Requests, 1000+1000+(1100+20)/2.0) // POST, polls, consumer batches
	wantQty(t, r, "pipe", KV, Writes, 1000+1100+20)                   // queued, one per attempt, dead
	wantQty(t, r, "pipe", KV, Reads, 1100+20+1000)                    // updateStatus, DLQ, polls
	wantQty(t, r, "pipe", R2, ClassB, 1100+20+980)                    // heads, DLQ head, final poll get
	wantQty(t, r, "pipe", R2, ClassA, 1000)                           // 980 results + 20 failure records
	wantQty(t, r, "pipe", Queues, Operations, 3000+100+60)            // 3 per message, a read per retry, DLQ write+read+delete
	if got := r.Products[0].ModelCalls; got != 980 {
		t.Errorf("model calls %v, want 980 (dead jobs make none)", got)
	}
}

func TestEdgeCacheCounts(t *testing.T) {
	r := forecast(t, Free, product("relay", EdgeCache, 10000, "cache_hit_rate = 0.75\nresult_bytes = 1000"))
	wantQty(t, r, "relay", Workers, Requests, 10000)
	wantQty(t, r, "relay", KV, Reads, 10000)
	wantQty(t, r, "relay", KV, Writes, 2500)
	wantQty(t, r, "relay", R2, ClassA, 0)
	wantQty(t, r, "relay", R2, ClassB, 0)
	wantQty(t, r, "relay", Model, InputTokens, 2500*400)
	p := r.Products[0]
	if p.ModelCalls != 2500 || p.CacheHitRate == nil || *p.CacheHitRate != 0.75 {
		t.Errorf("calls %v, hit rate %v", p.ModelCalls, p.CacheHitRate)
	}
	// The 7,500 hits would have cost 7,500 calls at $0.0009.
	if !near(p.CacheSavingsUSD, 6.75) || !near(r.CacheSavingsUSD, 6.75) {
		t.Errorf("cache savings %v, want 6.75", p.CacheSavingsUSD)
	}
	// Answers above KV_INLINE_MAX_BYTES go to R2: a put per miss, a get per hit.
	r = forecast(t, Free, product("relay", EdgeCache, 10000, "cache_hit_rate = 0.75\nresult_bytes = 20000"))
	wantQty(t, r, "relay", R2, ClassA, 2500)
	wantQty(t, r, "relay", R2, ClassB, 7500)
	wantQty(t, r, "relay", KV, Writes, 2500)
	wantQty(t, r, "relay", KV, Storage, 2500.0/30*PointerBytes/1e9)
	// A 100% hit rate makes no calls and saves every one.
	r = forecast(t, Free, product("relay", EdgeCache, 1000, "cache_hit_rate = 1"))
	if r.AIUSD != 0 || !near(r.CacheSavingsUSD, 0.9) {
		t.Errorf("all hits: ai %v, savings %v", r.AIUSD, r.CacheSavingsUSD)
	}
}

// Exactly 1,000 KV writes a day passes on Workers Free; 1,001 warns.
func TestKVWriteLimitEdge(t *testing.T) {
	r := forecast(t, Free, product("relay", EdgeCache, 30000, "cache_hit_rate = 0"))
	if len(r.Warnings) != 0 {
		t.Errorf("1,000 writes/day warned: %v", r.Warnings)
	}
	if !near(limitUse(r, KV, Writes), 1) {
		t.Errorf("free limits: %+v", r.FreeLimits)
	}
	r = forecast(t, Free, product("relay", EdgeCache, 30030, "cache_hit_rate = 0"))
	if len(r.Warnings) != 1 {
		t.Fatalf("1,001 writes/day: warnings %v", r.Warnings)
	}
	w := r.Warnings[0]
	for _, s := range []string{"KV writes: 1,001/day", "against Workers Free's 1,000/day", "over the limit every day",
		"at about 23:59 UTC", "~1 writes a day fail", "about 1 relay requests a day", "On Workers Paid: 30,030 writes a month, within the 1,000,000 included: +$0.00"} {
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

// Limits are the account's: two products at 500 writes a day pass together,
// 500 + 501 warn, and the warning attributes the writes to both.
func TestDailyLimitsAreSummedOverTheAccount(t *testing.T) {
	a := product("a", EdgeCache, 15000, "cache_hit_rate = 0")
	if r := forecast(t, Free, a+product("b", EdgeCache, 15000, "cache_hit_rate = 0")); len(r.Warnings) != 0 || !near(limitUse(r, KV, Writes), 1) {
		t.Errorf("500 + 500 writes/day: %v, use %v", r.Warnings, limitUse(r, KV, Writes))
	}
	r := forecast(t, Free, a+product("b", EdgeCache, 15030, "cache_hit_rate = 0"))
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "1,001/day on the account (b 501, a 500)") {
		t.Errorf("500 + 501 writes/day: %v", r.Warnings)
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

// A daily limit broken by half: reached at noon, half the writes fail, and the
// paid plan's overage is priced.
func TestDailyLimitWarningText(t *testing.T) {
	// 2,000,000 misses a month: 66,667 writes/day, 2,000,000 a month on Workers Paid.
	r := forecast(t, Free, product("relay", EdgeCache, 60000, "cache_hit_rate = 0")+
		product("big", EdgeCache, 1940000, "cache_hit_rate = 0"))
	w := ""
	for _, x := range r.Warnings {
		if strings.HasPrefix(x, "KV writes") {
			w = x
		}
	}
	for _, s := range []string{"66,667/day on the account (big 64,667, relay 2,000)", "at about 00:22 UTC", "~65,667 writes a day fail",
		"about 1,970 relay, 63,697 big requests a day", "2,000,000 writes a month, 1,000,000 past the 1,000,000 included at $5.00/M: +$5.00 on top of the $5.00/month plan"} {
		if !strings.Contains(w, s) {
			t.Errorf("warning does not say %q:\n%s", s, w)
		}
	}
}

func TestPaidPlanOverage(t *testing.T) {
	// 2,000,000 KV writes a month: 1,000,000 past the included, at $5/M.
	r := forecast(t, Paid, product("relay", EdgeCache, 2000000, "cache_hit_rate = 0\ncpu_ms = 0"))
	it := item(r, "relay", KV, Writes)
	if !near(it.Billable, 1e6) || !near(it.USD, 5) || !near(it.UnitUSD, 5e-6) {
		t.Errorf("KV writes: %+v", it)
	}
	// 2,000,000 reads are within the 10,000,000 included.
	if it := item(r, "relay", KV, Reads); it.USD != 0 || it.Billable != 0 {
		t.Errorf("KV reads: %+v", it)
	}
	if len(r.AccountItems) != 1 || r.AccountItems[0].USD != 5 {
		t.Errorf("account items %+v", r.AccountItems)
	}
	if !near(r.InfraUSD, 10) || len(r.Warnings) != 0 {
		t.Errorf("infra %v, warnings %v", r.InfraUSD, r.Warnings)
	}
	// Included amounts are the account's, shared in proportion: two products
	// with 1,000,000 writes each get half of the 1,000,000 billed each.
	r = forecast(t, Paid, product("a", EdgeCache, 1000000, "cache_hit_rate = 0")+product("b", EdgeCache, 1000000, "cache_hit_rate = 0"))
	if a, b := item(r, "a", KV, Writes), item(r, "b", KV, Writes); !near(a.USD, 2.5) || !near(b.USD, 2.5) {
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
	// 300,000 answers of 10 KB kept 30 days: about 3 GB of KV.
	r = forecast(t, Free, product("relay", EdgeCache, 300000, "cache_hit_rate = 0\nresult_bytes = 10000\ncache_ttl_seconds = 2592000"))
	if !hasWarning(r, "KV storage: 3.02 GB-month on the account (relay 3.02 GB-month) against Workers Free's 1 GB-month: writes fail once it is full.") {
		t.Errorf("warnings: %v", r.Warnings)
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
