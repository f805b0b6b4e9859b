package cost

import (
	"math"
	"slices"
	"strings"

	"github.com/zerocost/zerocost/internal/stack"
)

// check vets one product's values; add reports a problem of a key.
func (pp *ProductProfile) check(add func(name, format string, args ...any)) {
	switch pp.Pattern {
	case EventAgent, AsyncPipeline, EdgeCache:
	case "":
		add("pattern", "missing (event-agent, async-pipeline or edge-cache)")
	default:
		add("pattern", "%q is not a pattern (event-agent, async-pipeline or edge-cache)", pp.Pattern)
	}
	if pp.Model == "" {
		pp.Model = DefaultModel
	}
	for _, name := range []string{"requests", "input_tokens", "output_tokens"} {
		if fieldPtr(pp, name) == nil {
			add(name, "missing")
		}
	}
	// Fields that apply to other patterns only.
	for name, patterns := range onlyFor {
		if fieldPtr(pp, name) != nil && !contains(patterns, pp.Pattern) && pp.Pattern != "" {
			add(name, "applies to %s only, not to %s", strings.Join(patterns, " and "), pp.Pattern)
		}
	}
	check := func(name string, lo, hi float64) { pp.inRange(add, name, lo, hi) }
	// Upper bounds far past any real product keep every forecast finite
	// (unbounded values overflowed the totals to +Inf).
	check("requests", 0, maxRequests)
	check("input_tokens", 0, maxTokens)
	check("output_tokens", 0, maxTokens)
	check("cached_prefix_tokens", 0, maxTokens)
	check("result_bytes", 0, maxResultBytes)
	if b := pp.MonthlyBudgetUSD; b != nil && !(*b > 0 && *b <= maxBudgetUSD) {
		add("monthly_budget_usd", "%v is not a budget: give US dollars above 0 (at most %v)", *b, maxBudgetUSD)
	}
	check("cpu_ms", 0, maxCPUms)
	check("cache_hit_rate", 0, 1)
	check("polls_per_job", 0, maxPollsPerJob)
	check("retry_rate", 0, 100)
	check("dead_letter_rate", 0, 1)
	check("messages_per_batch", 1, 100)
	check("jobs_per_request", 1, maxJobsPerRequest)
	check("batch_poll_minutes", 1, 1440)
	check("batch_hours", 0, 24)
	pp.choice(add, "model_mode", pp.ModelMode, "a model mode (realtime or batch)", AsyncPipeline, ModeRealtime, ModeBatch)
	pp.choice(add, "runner", pp.Runner, "a runner (workflow or waitUntil)", EventAgent, stack.RunnerWorkflow, stack.RunnerWaitUntil)
	pp.choice(add, "access", pp.Access, "an access mode (keys or public)", "", stack.AccessKeys, stack.AccessPublic)
	check("customers", 1, maxCustomers)
	check("isolates", 1, maxIsolates)
	if pp.Access == stack.AccessPublic && (pp.Customers != nil || pp.Isolates != nil) {
		add("customers", "customers and isolates apply with access = \"keys\" only")
	}
	if pp.ModelMode != ModeBatch && (pp.BatchPollMinutes != nil || pp.BatchHours != nil) && pp.Pattern == AsyncPipeline {
		add("batch_poll_minutes", "batch_poll_minutes and batch_hours apply with model_mode = \"batch\" only")
	}
	if pp.ModelMode == ModeBatch && pp.JobsPerRequest != nil && *pp.JobsPerRequest > 1 {
		add("jobs_per_request", "applies with model_mode = \"realtime\" only: batch mode's ops per packed message are not measured yet")
	}
	if pp.CachedPrefixTokens != nil && pp.InputTokens != nil && *pp.CachedPrefixTokens > *pp.InputTokens {
		add("cached_prefix_tokens", "%v is more than input_tokens (%v): the prefix is part of the input", *pp.CachedPrefixTokens, *pp.InputTokens)
	}
	if pp.Pattern == EdgeCache && pp.CacheHitRate == nil {
		add("cache_hit_rate", "missing: an edge-cache product needs the share of requests answered from the cache (0..1)")
	}
}

func (pp *ProductProfile) applyDefaults() {
	def := func(p **float64, v float64) {
		if *p == nil {
			*p = &v
		}
	}
	def(&pp.Requests, 0)
	def(&pp.InputTokens, 0)
	def(&pp.OutputTokens, 0)
	def(&pp.CachedPrefixTokens, 0)
	def(&pp.ResultBytes, DefaultResultBytes)
	def(&pp.CPUms, DefaultCPUms)
	if pp.Access == "" {
		pp.Access = stack.DefaultAccess
	}
	if pp.Access == stack.AccessKeys {
		def(&pp.Customers, DefaultCustomers)
		def(&pp.Isolates, DefaultIsolates)
	}
	switch pp.Pattern {
	case EdgeCache:
		def(&pp.CacheHitRate, 0)
	case AsyncPipeline:
		def(&pp.RetryRate, 0)
		def(&pp.DeadLetterRate, 0)
		def(&pp.MessagesPerBatch, DefaultMessagesPerBatch)
		def(&pp.JobsPerRequest, DefaultJobsPerRequest)
		def(&pp.BatchPollMinutes, DefaultBatchPollMinutes)
		def(&pp.BatchHours, DefaultBatchHours)
		if pp.ModelMode == "" {
			pp.ModelMode = ModeRealtime
		}
		fallthrough
	case EventAgent:
		def(&pp.PollsPerJob, DefaultPollsPerJob)
		if pp.Runner == "" {
			pp.Runner = stack.DefaultRunner
		}
	}
}

// inRange reports a set value outside lo..hi (or not a number).
func (pp *ProductProfile) inRange(add func(name, format string, args ...any), name string, lo, hi float64) {
	v := fieldPtr(pp, name)
	if v == nil {
		return
	}
	if math.IsNaN(*v) || math.IsInf(*v, 0) || *v < lo || *v > hi {
		if *v < lo && hi >= 1e5 { // an open-ended value with a far cap
			add(name, "%v is below %v", *v, lo)
		} else {
			add(name, "%v is outside %v..%v", *v, lo, hi)
		}
	}
}

// choice reports a set value v of key name that is none of allowed (what
// names the kind of value), and one set on a product whose pattern is not
// only (when only is a pattern).
func (pp *ProductProfile) choice(add func(name, format string, args ...any), name, v, what, only string, allowed ...string) {
	if v == "" {
		return
	}
	if !slices.Contains(allowed, v) {
		add(name, "%q is not %s", v, what)
	}
	if only != "" && pp.Pattern != only && pp.Pattern != "" {
		add(name, "applies to %s only, not to %s", only, pp.Pattern)
	}
}
