package cost

import "math"

// Usage is what one account's products use in one period: the input of Price.
// A forecast builds it from a usage profile (FromProfile), a report from
// Cloudflare's analytics.
type Usage struct {
	// Days is the period's length: the month being forecast, or the report's range.
	Days int
	// Dates name the days (YYYY-MM-DD) of a measured period; nil for a forecast.
	Dates    []string
	Products []ProductUsage
}

// ProductUsage is one product's usage in the period.
type ProductUsage struct {
	Name    string
	Pattern string
	// Requests is the product's requests: jobs (POST /jobs) for event-agent and
	// async-pipeline, questions (POST /ask) for edge-cache.
	Requests float64
	// Quantities are the period's totals per Cloudflare meter. Storage is in
	// GB-months.
	Quantities map[Meter]float64
	// Daily holds measured per-day amounts (len Days); a meter without them is
	// taken as spread evenly over the period.
	Daily map[Meter][]float64
	// Models are the model calls, one entry per model.
	Models []ModelUsage
	// CacheHits are the edge-cache requests answered from the cache.
	CacheHits float64
	// CacheHitRate is set for edge-cache products (measured or assumed).
	CacheHitRate *float64
	// CPUmsPerInvocation is the CPU time of one invocation (forecast: the
	// profile's cpu_ms; report: the 99th percentile), 0 when unknown.
	CPUmsPerInvocation float64
	// CachedPrefixTokens is the shared prompt prefix (forecast only), for the
	// prompt-caching lever.
	CachedPrefixTokens float64
	// PerCall holds the tokens of one model call (forecast only).
	PerCall *ModelUsage
}

// ModelUsage is one model's calls and tokens.
type ModelUsage struct {
	Model            string
	Calls            float64
	InputTokens      float64
	OutputTokens     float64
	CacheReadTokens  float64
	CacheWriteTokens float64
}

// Sizes the forecast assumes for what the Workers store.
const (
	// StatusBytes is a job status in KV (key job:<uuid> and its JSON).
	StatusBytes = 250
	// CacheEntryOverhead is an edge-cache entry's key (ai:<sha-256 hex>) and
	// the {"answer":...} wrapper around the answer.
	CacheEntryOverhead = 80
	// PointerBytes is an edge-cache entry that points at R2 ({"r2":"answers/<hex>.json"}).
	PointerBytes = 170
	// queueOpsPerMessage: a write, a read and a delete per 64 KB; messages
	// carry one input (MAX_INPUT_CHARS, default 4,000) and stay under 64 KB.
	queueOpsPerMessage = 3
	gb                 = 1e9
)

// FromProfile turns a usage profile into a month of usage, counting the
// operations each pattern's Worker performs per request (docs/cost.md,
// "What one request does").
func FromProfile(p *Profile) *Usage {
	u := &Usage{Days: p.Days}
	days := float64(p.Days)
	for i := range p.Products {
		pp := &p.Products[i]
		R := v(pp.Requests)
		q := map[Meter]float64{}
		add := func(service, metric string, n float64) {
			if n > 0 {
				q[Meter{service, metric}] += n
			}
		}
		// alive is how many of n items written over the month exist at once
		// when each lives ttl seconds.
		alive := func(n, ttl float64) float64 { return math.Min(n, n/days*ttl/86400) }
		var calls float64
		pu := ProductUsage{Name: pp.Name, Pattern: pp.Pattern, Requests: R, CPUmsPerInvocation: v(pp.CPUms), CachedPrefixTokens: v(pp.CachedPrefixTokens)}
		switch pp.Pattern {
		case EventAgent:
			P := v(pp.PollsPerJob)
			add(Workers, Requests, R*(1+P))   // POST /jobs, then the polls
			add(KV, Writes, 2*R)              // status queued, then done (or failed)
			add(KV, Reads, P*R)               // each poll reads the status
			add(R2, ClassA, R)                // the result's put
			add(R2, ClassB, math.Min(P, 1)*R) // the poll that finds it done gets the result
			add(KV, Storage, alive(R, v(pp.JobTTLSeconds))*StatusBytes/gb)
			add(R2, Storage, p.RetentionMonths*R*v(pp.ResultBytes)/gb)
			calls = R
		case AsyncPipeline:
			P, r, d, b := v(pp.PollsPerJob), v(pp.RetryRate), v(pp.DeadLetterRate), v(pp.MessagesPerBatch)
			deliveries := R * (1 + r) // every attempt of the main queue's consumer
			dead := d * R
			add(Workers, Requests, R+P*R+(deliveries+dead)/b) // POST, polls, consumer invocations
			add(KV, Writes, R+deliveries+dead)                // queued at POST; a status per attempt; dead
			add(KV, Reads, deliveries+dead+P*R)               // updateStatus reads first; the DLQ reads it; polls
			add(R2, ClassB, deliveries+dead+(R-dead)*math.Min(P, 1))
			add(R2, ClassA, R) // the result, or the failure record of a dead job
			add(Queues, Operations, R*queueOpsPerMessage+R*r+dead*queueOpsPerMessage)
			add(KV, Storage, alive(R, v(pp.JobTTLSeconds))*StatusBytes/gb)
			add(R2, Storage, p.RetentionMonths*R*v(pp.ResultBytes)/gb)
			calls = R - dead
		case EdgeCache:
			h := v(pp.CacheHitRate)
			hits, misses := h*R, (1-h)*R
			add(Workers, Requests, R)
			add(KV, Reads, R)       // the lookup
			add(KV, Writes, misses) // the answer (or its R2 pointer)
			entry := v(pp.ResultBytes) + CacheEntryOverhead
			if v(pp.ResultBytes)+12 > v(pp.KVInlineMaxBytes) { // {"answer":...} above KV_INLINE_MAX_BYTES goes to R2
				add(R2, ClassA, misses)
				add(R2, ClassB, hits)
				add(R2, Storage, p.RetentionMonths*misses*v(pp.ResultBytes)/gb)
				entry = PointerBytes
			}
			add(KV, Storage, alive(misses, v(pp.CacheTTLSeconds))*entry/gb)
			calls = misses
			pu.CacheHits = hits
			pu.CacheHitRate = &h
		}
		add(Workers, CPUms, q[Meter{Workers, Requests}]*v(pp.CPUms))
		pu.Quantities = q
		pu.PerCall = &ModelUsage{Model: pp.Model, Calls: 1, InputTokens: v(pp.InputTokens), OutputTokens: v(pp.OutputTokens)}
		if calls > 0 {
			pu.Models = []ModelUsage{{
				Model: pp.Model, Calls: calls,
				InputTokens: calls * v(pp.InputTokens), OutputTokens: calls * v(pp.OutputTokens),
			}}
		} else {
			pu.Models = []ModelUsage{{Model: pp.Model}}
		}
		u.Products = append(u.Products, pu)
	}
	return u
}
