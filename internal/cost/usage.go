package cost

import (
	"math"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/stack"
)

// Usage is what one account's products use in one period: the input of Price.
// A forecast builds it from a usage profile (FromProfile), a report from
// Cloudflare's analytics.
type Usage struct {
	// Days is the period's length: the month being forecast, or the report's range.
	Days int
	// Dates name the days (YYYY-MM-DD) of a measured period; nil for a forecast.
	Dates    []string
	Products []ProductUsage
	// Budgets are the products' monthly model budgets in USD, by product
	// name (settings.monthlyBudgetUsd); StackBudgetUSD caps their sum
	// (zerocost:monthlyBudgetUsd), 0 when unset.
	Budgets        map[string]float64
	StackBudgetUSD float64
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
	// Fixed is the part of Quantities that does not grow with the requests
	// (batch mode's poller cron runs all month whatever the traffic); nil
	// when all of it does. Capacity scales the rest.
	Fixed map[Meter]float64
	// Ceiling is the most a meter can reach in the period whatever the
	// traffic (the KV reads of key lookups: every customer's key read once
	// a minute per isolate, keyLookupBound); nil when none is bounded.
	// Capacity never takes a meter as a limit its ceiling stays under.
	Ceiling map[Meter]float64
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

// ModelUsage is one model's calls and tokens, in one billing mode.
type ModelUsage struct {
	Model string
	// Batch: the calls went through the Message Batches API, which bills
	// every token at the model's batch discount.
	Batch            bool
	Calls            float64
	InputTokens      float64
	OutputTokens     float64
	CacheReadTokens  float64
	CacheWriteTokens float64
}

// RecordOverhead is what a job record (jobs/<id>.json) holds besides the
// result: its id, status, timestamps, model and usage.
const (
	RecordOverhead = 250
	gb             = 1e9
)

// storedGB is the product's steady-state R2 storage, in GB: R2 lifecycle
// rules delete what is written under each prefix once it is the rule's age,
// up to a day late (plan.Lifecycle), so a prefix holds (its age + 1) days of
// what is written under it a day. Job records live under jobs/ for the
// stack's retention, and dead ones also (a copy) under held/ for at least 31
// days; edge-cache
// stores one answer per miss for its TTL in whole days.
func storedGB(p *Profile, pp *ProductProfile) float64 {
	perDay := v(pp.Requests) / float64(p.Days)
	s := pp.Retention
	switch pp.Pattern {
	case EventAgent, AsyncPipeline:
		dead := v(pp.DeadLetterRate)
		days := float64(s.JobRecordDays()+1) + dead*float64(s.HeldRecordDays()+1)
		return perDay * days * (v(pp.ResultBytes) + RecordOverhead) / gb
	case EdgeCache:
		return perDay * (1 - v(pp.CacheHitRate)) * float64(s.AnswerDays()+1) * v(pp.ResultBytes) / gb
	}
	return 0
}

// opMeters says which Cloudflare meter counts each op of the contract's event
// table (internal/contract/ops.go). Ops that no meter counts (deletes of R2
// objects, Cache API calls, the rate limiter, a Workflow instance's creation,
// steps and status reads) are free and unlimited; a model call is priced by
// its tokens, not here. A Workflow instance's run is an execution, which
// Workers Free counts with the Workers' requests (the run event's OpRequest)
// and Workers Paid prices like them (developers.cloudflare.com/workflows/reference/pricing/);
// its state (100 MB an instance on Free, kept 3 days) is not priced here.
var opMeters = map[contract.Op]Meter{
	contract.OpRequest:        {Workers, Requests},
	contract.OpR2Put:          {R2, ClassA},
	contract.OpR2List:         {R2, ClassA},
	contract.OpR2Get:          {R2, ClassB},
	contract.OpR2Head:         {R2, ClassB},
	contract.OpQueueWrite:     {Queues, Operations},
	contract.OpQueueRead:      {Queues, Operations},
	contract.OpQueueDelete:    {Queues, Operations},
	contract.OpAnalyticsWrite: {Analytics, DataPoints},
	contract.OpD1RowsRead:     {D1, RowsRead},
	contract.OpD1RowsWritten:  {D1, RowsWritten},
	contract.OpKVRead:         {KV, Reads},
}

// fixedEvents happen whatever the traffic: batch mode's poller runs on its
// cron all month.
var fixedEvents = map[string]bool{contract.EventBatchPoll: true}

// fixedEvent says whether an event's count does not grow with the traffic:
// a fixedEvents one, or key lookups already at their bound (every customer's
// key read once a minute per isolate: more requests read no more).
func fixedEvent(pp *ProductProfile, events map[string]float64, name string) bool {
	if name == contract.EventKeyLookup {
		return events[name] < clientRequests(pp)+events[contract.EventPoll]
	}
	return fixedEvents[name]
}

// EventsPerMonth is how many times each of a product's events (the
// contract's names) happens in the profile's month.
//
//   - event-agent: every job is a post (runner = "waitUntil"), or a
//     post_workflow and a run, its Workflow instance (runner = "workflow",
//     the default); polls_per_job polls each (a poll within the first
//     minute reads no instance status).
//   - async-pipeline: every job a post; a delivery for each job that ends
//     done, an attempt_failed for each failed attempt (retry_rate per job,
//     the attempts of dead jobs included), a dead_letter for each dead job;
//     a consumer_batch per messages_per_batch deliveries, on either queue.
//   - async-pipeline in batch mode (model_mode = "batch"): a
//     batch_delivery per submission (every job, and again per retried
//     request), a consumer_batch and a batch_submit (one Message Batch) per
//     messages_per_batch submissions, a batch_poll per cron run
//     (batch_poll_minutes apart, all month), a batch_open per open batch per
//     run (batch_hours long), a batch_ended per batch, a batch_result per job
//     done, a batch_retry per failed request retried, a batch_dead per dead
//     job.
//   - edge-cache: a hit_store per hit, a miss per miss. Hits are counted as
//     R2 reads: on a workers.dev hostname the Cache API stores nothing, and on
//     a custom domain it is per location, so this is the most a hit costs.
//
// A budgeted product (its own monthly_budget_usd, or the stack's) also has a
// budget_check before every model call or batch created and a budget_record
// after every successful call. Its alerts (at most one per threshold a
// month) are left out.
//
// A product with access = keys also has a key_lookup, one KV read, per
// client request whose key is not in its isolate's cache (keyLookups; its
// door is its customer's tier door in place of DOOR_LIMITER, one door as a
// public product's, already in the events above); a
// customer_record after every successful model call (its customer's
// customer_spend row) and a customer_check before every model call or
// batch created (as if every customer had a monthly budget: the most).
// Refused keys (key_refused) have no rate in a profile and are left out.
func EventsPerMonth(p *Profile, pp *ProductProfile) map[string]float64 {
	e := eventsOf(p, pp)
	if pp.Access == stack.AccessKeys {
		e[contract.EventKeyLookup] = keyLookups(p, pp, e)
	}
	var checks, records float64
	for name, n := range e {
		ops := contract.EventOps(pp.Pattern, name)
		checks += n * float64(ops[contract.OpModelCall]+ops[contract.OpBatchCreate])
		records += n * float64(contract.CallPoints(pp.Pattern, name))
	}
	if pp.MonthlyBudgetUSD != nil || p.MonthlyBudgetUSD != nil {
		e[contract.EventBudgetCheck] = checks
		e[contract.EventBudgetRecord] = records
	}
	if pp.Access == stack.AccessKeys {
		// Every customer taken to have a budget: the most reads.
		e[contract.EventCustomerCheck] = checks
		e[contract.EventCustomerRecord] = records
	}
	return e
}

// keyLookups bounds a keyed product's KV reads: an isolate keeps a key's
// record for 60 s (workers-src/src/lib/keys.ts CACHE_TTL_MS), so each
// customer's key is read at most once a minute per isolate its requests
// reach, and never more than once per client request:
//
//	lookups = min(client requests, customers × isolates × minutes of the month)
//
// Client requests are the ones that carry a key: POST /jobs or /ask (the
// requests), and the polls. A customer's traffic is taken as spread over the
// whole month, which gives the most lookups; with customers and isolates
// unknown, the defaults (DefaultCustomers, DefaultIsolates) stand in.
func keyLookups(p *Profile, pp *ProductProfile, e map[string]float64) float64 {
	client := clientRequests(pp) + e[contract.EventPoll]
	return math.Min(client, keyLookupBound(p, pp))
}

// keyLookupBound is the most key lookups a month can make: customers ×
// isolates × minutes of the month.
func keyLookupBound(p *Profile, pp *ProductProfile) float64 {
	return v(pp.Customers) * v(pp.Isolates) * float64(p.Days) * 24 * 60
}

func eventsOf(p *Profile, pp *ProductProfile) map[string]float64 {
	R := v(pp.Requests)
	e := map[string]float64{}
	switch pp.Pattern {
	case AsyncPipeline:
		if pp.ModelMode != ModeBatch {
			break
		}
		dead := v(pp.DeadLetterRate) * R
		failed := v(pp.RetryRate) * R
		submissions := R + failed - dead
		batches := submissions / v(pp.MessagesPerBatch)
		polls := float64(p.Days) * 24 * 60 / v(pp.BatchPollMinutes)
		e[contract.EventPost] = R
		e[contract.EventBatchDelivery] = submissions
		e[contract.EventBatch] = batches
		e[contract.EventBatchSubmit] = batches
		e[contract.EventBatchPoll] = polls
		e[contract.EventBatchOpen] = batches * math.Max(1, v(pp.BatchHours)*60/v(pp.BatchPollMinutes))
		e[contract.EventBatchEnded] = batches
		e[contract.EventBatchResult] = R - dead
		e[contract.EventBatchRetry] = failed - dead
		e[contract.EventBatchDead] = dead
		e[contract.EventPoll] = v(pp.PollsPerJob) * R
		return e
	}
	switch pp.Pattern {
	case EventAgent:
		if pp.Runner == stack.RunnerWaitUntil {
			e[contract.EventPost] = R
		} else {
			// The POST, and the job's instance: one more execution.
			e[contract.EventPostWorkflow] = R
			e[contract.EventRun] = R
		}
		e[contract.EventPoll] = v(pp.PollsPerJob) * R
	case AsyncPipeline:
		if jobsPerRequest(pp) > 1 {
			packedEvents(e, p, pp, R)
			break
		}
		dead := v(pp.DeadLetterRate) * R
		failed := v(pp.RetryRate) * R
		e[contract.EventPost] = R
		e[contract.EventDelivery] = R - dead
		e[contract.EventAttemptRetry] = failed
		e[contract.EventDeadLetter] = dead
		e[contract.EventBatch] = (R - dead + failed + dead) / v(pp.MessagesPerBatch)
		e[contract.EventPoll] = v(pp.PollsPerJob) * R
	case EdgeCache:
		h := v(pp.CacheHitRate)
		e[contract.EventHitStore] = h * R
		e[contract.EventMiss] = (1 - h) * R
	}
	return e
}

// jobsPerRequest is how many jobs one client request carries: the
// profile's jobs_per_request for a realtime async-pipeline, else 1.
func jobsPerRequest(pp *ProductProfile) float64 {
	if pp.Pattern != AsyncPipeline || pp.ModelMode == ModeBatch || pp.JobsPerRequest == nil {
		return 1
	}
	return math.Max(1, *pp.JobsPerRequest)
}

// clientRequests is how many requests a month start work: the POSTs,
// which carry jobs_per_request jobs each.
func clientRequests(pp *ProductProfile) float64 {
	return v(pp.Requests) / jobsPerRequest(pp)
}

// packedEvents are a realtime async-pipeline's events when its clients post
// J = jobs_per_request jobs at once (R jobs a month): R/J POSTs, each
// sending its jobs packed, contract.PackMaxJobs a message (ceil(J/10)
// messages a POST, k = J/ceil(J/10) jobs each); a packed_delivery per job
// done; a failed attempt retries its message (packed_attempt_failed: its
// redelivery's read, counted per failed attempt, the most it costs), whose
// redelivery reads the k − 1 other jobs' records again (packed_sibling_read,
// the most it reads); the last failed attempt of a dead job is a
// packed_dead (its dead record, no queue op); a consumer_batch per
// messages_per_batch deliveries (each message once, once more per failed
// attempt, once more per time it is sent on); a pack_pass_on per message a
// delivery sends on past the jobs one invocation runs (passOns: none when
// messages_per_batch is at most the packs an invocation runs, the default
// batchSize).
func packedEvents(e map[string]float64, p *Profile, pp *ProductProfile, R float64) {
	J := jobsPerRequest(pp)
	perPost := math.Ceil(J / contract.PackMaxJobs)
	messages := R / J * perPost
	dead := v(pp.DeadLetterRate) * R
	retried := math.Max(0, v(pp.RetryRate)*R-dead)
	e[contract.EventPostMany] = R / J
	e[contract.EventPostManyJob] = R
	e[contract.EventPackMessage] = messages
	e[contract.EventPackedDelivery] = R - dead
	e[contract.EventPackedAttemptFail] = retried
	e[contract.EventPackedSiblingRead] = retried * (J/perPost - 1)
	e[contract.EventPackedDead] = dead
	e[contract.EventBatch] = (messages + retried) / v(pp.MessagesPerBatch)
	e[contract.EventPoll] = v(pp.PollsPerJob) * R
	countPassOns(e, p, pp, messages+retried, J/perPost)
}

// FromProfile turns a usage profile into a month of usage: each event's
// count (EventsPerMonth) times the ops the contract says it costs, summed
// per meter (docs/cost.md, "What one request does"). A Worker test measures
// those ops in workerd, so the forecast counts what the Workers do.
func FromProfile(p *Profile) *Usage {
	u := &Usage{Days: p.Days, StackBudgetUSD: v(p.MonthlyBudgetUSD)}
	for i := range p.Products {
		pp := &p.Products[i]
		if pp.MonthlyBudgetUSD != nil {
			if u.Budgets == nil {
				u.Budgets = map[string]float64{}
			}
			u.Budgets[pp.Name] = *pp.MonthlyBudgetUSD
		}
		R := v(pp.Requests)
		q := map[Meter]float64{}
		add := func(m Meter, n float64) {
			if n > 0 {
				q[m] += n
			}
		}
		pu := ProductUsage{Name: pp.Name, Pattern: pp.Pattern, Requests: R, CPUmsPerInvocation: v(pp.CPUms), CachedPrefixTokens: v(pp.CachedPrefixTokens)}
		// A successful model call writes exactly one data point; failed
		// calls bill no tokens; a cache hit's point is no call.
		var calls float64
		events := EventsPerMonth(p, pp)
		for name, n := range events {
			ops := contract.EventOps(pp.Pattern, name)
			for op, k := range ops {
				if m, ok := opMeters[op]; ok {
					add(m, n*float64(k))
					if name == contract.EventKeyLookup && k > 0 {
						if pu.Ceiling == nil {
							pu.Ceiling = map[Meter]float64{}
						}
						pu.Ceiling[m] += keyLookupBound(p, pp) * float64(k)
					}
					if fixedEvent(pp, events, name) && n*float64(k) > 0 {
						if pu.Fixed == nil {
							pu.Fixed = map[Meter]float64{}
						}
						pu.Fixed[m] += n * float64(k)
					}
				}
			}
			calls += n * float64(contract.CallPoints(pp.Pattern, name))
		}
		// Under a stack-wide budget the check and the record read the
		// month's row of every product that spent (the table counts one):
		// at most one more row per other product.
		if p.MonthlyBudgetUSD != nil && len(p.Products) > 1 {
			guarded := events[contract.EventBudgetCheck]*float64(contract.EventOps(pp.Pattern, contract.EventBudgetCheck)[contract.OpD1RowsRead]) +
				events[contract.EventBudgetRecord]*float64(contract.EventOps(pp.Pattern, contract.EventBudgetRecord)[contract.OpD1RowsRead])
			add(Meter{D1, RowsRead}, guarded*float64(len(p.Products)-1))
		}
		add(Meter{R2, Storage}, storedGB(p, pp))
		if pp.Pattern == EdgeCache {
			h := v(pp.CacheHitRate)
			pu.CacheHits = h * R
			pu.CacheHitRate = &h
		}
		add(Meter{Workers, CPUms}, q[Meter{Workers, Requests}]*v(pp.CPUms))
		if r := pu.Fixed[Meter{Workers, Requests}]; r > 0 && v(pp.CPUms) > 0 {
			pu.Fixed[Meter{Workers, CPUms}] = r * v(pp.CPUms)
		}
		pu.Quantities = q
		pu.PerCall = &ModelUsage{Model: pp.Model, Calls: 1, InputTokens: v(pp.InputTokens), OutputTokens: v(pp.OutputTokens)}
		if calls > 0 {
			pu.Models = []ModelUsage{{
				Model: pp.Model, Calls: calls, Batch: pp.ModelMode == ModeBatch,
				InputTokens: calls * v(pp.InputTokens), OutputTokens: calls * v(pp.OutputTokens),
			}}
		} else {
			pu.Models = []ModelUsage{{Model: pp.Model}}
		}
		u.Products = append(u.Products, pu)
	}
	return u
}
