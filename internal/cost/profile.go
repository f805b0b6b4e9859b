package cost

import (
	"github.com/zerocost/zerocost/internal/stack"

	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Upper bounds of the profile's values: far beyond any real product, low
// enough that no forecast overflows.
const (
	maxRequests        = 1e12 // a month
	maxTokens          = 1e7  // a call
	maxResultBytes     = 1e10
	maxCPUms           = 900_000 // 15 minutes, the longest a Worker invocation runs
	maxPollsPerJob     = 1e6
	maxRetentionMonths = 1200
	maxBudgetUSD       = 1e9
)

// Model modes (async-pipeline's settings.modelMode).
const (
	ModeRealtime = "realtime"
	ModeBatch    = "batch"
)

// Plans.
const (
	Free = "free"
	Paid = "paid"
)

// Patterns, as docs/design.md names them.
const (
	EventAgent    = "event-agent"
	AsyncPipeline = "async-pipeline"
	EdgeCache     = "edge-cache"
)

// Defaults of the usage profile's optional fields.
const (
	DefaultDays             = 30
	DefaultModel            = "claude-haiku-4-5"
	DefaultPollsPerJob      = 2
	DefaultMessagesPerBatch = 1
	DefaultResultBytes      = 2000
	DefaultCPUms            = 2
	DefaultRetentionMonths  = 12
	DefaultBatchPollMinutes = 5
	DefaultBatchHours       = 1
)

// Profile is a usage profile: what a month of traffic looks like.
type Profile struct {
	Plan string `toml:"plan"`
	Days int    `toml:"days"`
	// RetentionMonths is how many months of results R2 holds (zerocost sets no
	// lifecycle rule, so results accumulate).
	RetentionMonths float64 `toml:"retention_months"`
	// MonthlyBudgetUSD caps the products' model spend together (the stack's
	// zerocost:monthlyBudgetUsd); nil when unset.
	MonthlyBudgetUSD *float64         `toml:"monthly_budget_usd"`
	Products         []ProductProfile `toml:"product"`

	Path string `toml:"-"`
}

// ProductProfile is one product's traffic. Pointer fields are optional; those
// that only apply to some patterns are errors on the others.
type ProductProfile struct {
	Name    string `toml:"name"`
	Pattern string `toml:"pattern"`
	Model   string `toml:"model"`
	// Requests per month: POST /jobs (one job each) for event-agent and
	// async-pipeline, POST /ask for edge-cache.
	Requests     *float64 `toml:"requests"`
	InputTokens  *float64 `toml:"input_tokens"`
	OutputTokens *float64 `toml:"output_tokens"`
	// CachedPrefixTokens is the part of the input that is the same on every
	// call (system prompt, instructions): what prompt caching could cache.
	CachedPrefixTokens *float64 `toml:"cached_prefix_tokens"`
	ResultBytes        *float64 `toml:"result_bytes"`
	CPUms              *float64 `toml:"cpu_ms"`

	// MonthlyBudgetUSD is the product's monthly model budget
	// (settings.monthlyBudgetUsd): the forecast says whether and on which
	// day the Workers would start refusing model calls.
	MonthlyBudgetUSD *float64 `toml:"monthly_budget_usd"`

	CacheHitRate *float64 `toml:"cache_hit_rate"` // edge-cache
	PollsPerJob  *float64 `toml:"polls_per_job"`  // event-agent, async-pipeline
	// ModelMode is "realtime" (the default) or "batch" (async-pipeline:
	// settings.modelMode, the Message Batches API at its discount).
	ModelMode string `toml:"model_mode"`
	// BatchPollMinutes is how often batch mode's cron polls (5: the default
	// batchPollCron); BatchHours how long a Message Batch takes to end (1:
	// "most batches end within an hour").
	BatchPollMinutes *float64 `toml:"batch_poll_minutes"`
	BatchHours       *float64 `toml:"batch_hours"`
	// Runner is an event agent's settings.runner: "workflow" (the default:
	// each job a Workflow instance, one more execution) or "waitUntil".
	Runner           string   `toml:"runner"`
	RetryRate        *float64 `toml:"retry_rate"`         // async-pipeline
	DeadLetterRate   *float64 `toml:"dead_letter_rate"`   // async-pipeline
	MessagesPerBatch *float64 `toml:"messages_per_batch"` // async-pipeline
}

// removedKeys are product keys earlier versions read, and why they went: a
// profile that still sets one gets this instead of "unknown key".
var removedKeys = map[string]string{
	"kv_inline_max_bytes": "removed: edge-cache answers of every size live in R2 (and the Cache API), not KV",
	"cache_ttl_seconds":   "removed: the cache's TTL changes no free-tier count (a miss writes the answer once either way); cache_hit_rate is what matters",
	"job_ttl_seconds":     "removed: a job's record lives in R2, not in KV with a TTL; retention_months says how long results are kept",
}

// onlyFor lists the fields that apply to some patterns only.
var onlyFor = map[string][]string{
	"cache_hit_rate":     {EdgeCache},
	"polls_per_job":      {EventAgent, AsyncPipeline},
	"retry_rate":         {AsyncPipeline},
	"dead_letter_rate":   {AsyncPipeline},
	"messages_per_batch": {AsyncPipeline},
	"batch_poll_minutes": {AsyncPipeline},
	"batch_hours":        {AsyncPipeline},
}

// LoadProfile reads and checks a usage profile.
func LoadProfile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseProfile(path, data)
}

// ParseProfile decodes a usage profile strictly: an unknown key, a value of the
// wrong type, a missing required field or a value out of range is an error
// that names the field. It applies the defaults.
func ParseProfile(path string, data []byte) (*Profile, error) {
	p := &Profile{Path: path}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", path, field, fmt.Sprintf(format, args...)))
	}
	if und := md.Undecoded(); len(und) > 0 {
		for _, e := range unknownKeys(data, und) {
			if why, ok := removedKeys[e.key]; ok {
				add(e.field, "%s", why)
				continue
			}
			add(e.field, "unknown key (known: %s)", e.known)
		}
	}
	switch p.Plan {
	case "":
		p.Plan = Free
	case Free, Paid:
	default:
		add("plan", "%q is not a plan: use \"free\" (Workers Free) or \"paid\" (Workers Paid)", p.Plan)
	}
	if !md.IsDefined("days") {
		p.Days = DefaultDays
	} else if p.Days < 1 || p.Days > 31 {
		add("days", "%d is not a month's number of days (1..31)", p.Days)
	}
	if !md.IsDefined("retention_months") {
		p.RetentionMonths = DefaultRetentionMonths
	} else if !(p.RetentionMonths >= 0 && p.RetentionMonths <= maxRetentionMonths) {
		add("retention_months", "%v is outside 0..%v", p.RetentionMonths, maxRetentionMonths)
	}
	if p.MonthlyBudgetUSD != nil && !(*p.MonthlyBudgetUSD > 0 && *p.MonthlyBudgetUSD <= maxBudgetUSD) {
		add("monthly_budget_usd", "%v is not a budget: give US dollars above 0 (at most %v)", *p.MonthlyBudgetUSD, maxBudgetUSD)
	}
	if len(p.Products) == 0 {
		add("product", "no [[product]]: a profile lists at least one product")
	}
	seen := map[string]int{}
	for i := range p.Products {
		pp := &p.Products[i]
		field := fmt.Sprintf("product[%d]", i)
		if pp.Name != "" {
			field += " (" + pp.Name + ")"
		}
		f := func(name string) string { return field + "." + name }
		if pp.Name == "" {
			add(f("name"), "missing")
		} else if j, dup := seen[pp.Name]; dup {
			add(f("name"), "product[%d] has the same name", j)
		}
		seen[pp.Name] = i
		switch pp.Pattern {
		case EventAgent, AsyncPipeline, EdgeCache:
		case "":
			add(f("pattern"), "missing (event-agent, async-pipeline or edge-cache)")
		default:
			add(f("pattern"), "%q is not a pattern (event-agent, async-pipeline or edge-cache)", pp.Pattern)
		}
		if pp.Model == "" {
			pp.Model = DefaultModel
		}
		for _, name := range []string{"requests", "input_tokens", "output_tokens"} {
			if fieldPtr(pp, name) == nil {
				add(f(name), "missing")
			}
		}
		// Fields that apply to other patterns only.
		for name, patterns := range onlyFor {
			if fieldPtr(pp, name) != nil && !contains(patterns, pp.Pattern) && pp.Pattern != "" {
				add(f(name), "applies to %s only, not to %s", strings.Join(patterns, " and "), pp.Pattern)
			}
		}
		check := func(name string, lo, hi float64) {
			v := fieldPtr(pp, name)
			if v == nil {
				return
			}
			if math.IsNaN(*v) || math.IsInf(*v, 0) || *v < lo || *v > hi {
				if *v < lo && hi >= 1e5 { // an open-ended value with a far cap
					add(f(name), "%v is below %v", *v, lo)
				} else {
					add(f(name), "%v is outside %v..%v", *v, lo, hi)
				}
			}
		}
		// Upper bounds far past any real product keep every forecast finite
		// (unbounded values overflowed the totals to +Inf).
		check("requests", 0, maxRequests)
		check("input_tokens", 0, maxTokens)
		check("output_tokens", 0, maxTokens)
		check("cached_prefix_tokens", 0, maxTokens)
		check("result_bytes", 0, maxResultBytes)
		if b := pp.MonthlyBudgetUSD; b != nil && !(*b > 0 && *b <= maxBudgetUSD) {
			add(f("monthly_budget_usd"), "%v is not a budget: give US dollars above 0 (at most %v)", *b, maxBudgetUSD)
		}
		check("cpu_ms", 0, maxCPUms)
		check("cache_hit_rate", 0, 1)
		check("polls_per_job", 0, maxPollsPerJob)
		check("retry_rate", 0, 100)
		check("dead_letter_rate", 0, 1)
		check("messages_per_batch", 1, 100)
		check("batch_poll_minutes", 1, 1440)
		check("batch_hours", 0, 24)
		switch pp.ModelMode {
		case "", ModeRealtime, ModeBatch:
		default:
			add(f("model_mode"), "%q is not a model mode (realtime or batch)", pp.ModelMode)
		}
		if pp.ModelMode != "" && pp.Pattern != AsyncPipeline && pp.Pattern != "" {
			add(f("model_mode"), "applies to async-pipeline only, not to %s", pp.Pattern)
		}
		switch pp.Runner {
		case "", stack.RunnerWorkflow, stack.RunnerWaitUntil:
		default:
			add(f("runner"), "%q is not a runner (workflow or waitUntil)", pp.Runner)
		}
		if pp.Runner != "" && pp.Pattern != EventAgent && pp.Pattern != "" {
			add(f("runner"), "applies to event-agent only, not to %s", pp.Pattern)
		}
		if pp.ModelMode != ModeBatch && (pp.BatchPollMinutes != nil || pp.BatchHours != nil) && pp.Pattern == AsyncPipeline {
			add(f("batch_poll_minutes"), "batch_poll_minutes and batch_hours apply with model_mode = \"batch\" only")
		}
		if pp.CachedPrefixTokens != nil && pp.InputTokens != nil && *pp.CachedPrefixTokens > *pp.InputTokens {
			add(f("cached_prefix_tokens"), "%v is more than input_tokens (%v): the prefix is part of the input", *pp.CachedPrefixTokens, *pp.InputTokens)
		}
		if pp.Pattern == EdgeCache && pp.CacheHitRate == nil {
			add(f("cache_hit_rate"), "missing: an edge-cache product needs the share of requests answered from the cache (0..1)")
		}
		pp.applyDefaults()
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
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
	switch pp.Pattern {
	case EdgeCache:
		def(&pp.CacheHitRate, 0)
	case AsyncPipeline:
		def(&pp.RetryRate, 0)
		def(&pp.DeadLetterRate, 0)
		def(&pp.MessagesPerBatch, DefaultMessagesPerBatch)
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

// v reads an optional field that applyDefaults has set (0 when it does not apply).
func v(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fieldPtr returns the *float64 field tagged name, or nil when unset.
func fieldPtr(pp *ProductProfile, name string) *float64 {
	rv := reflect.ValueOf(pp).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		if rt.Field(i).Tag.Get("toml") == name {
			if p, ok := rv.Field(i).Interface().(*float64); ok {
				return p
			}
		}
	}
	return nil
}

func tomlKeys(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if k := t.Field(i).Tag.Get("toml"); k != "" && k != "-" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

type unknownKey struct{ field, key, known string }

// unknownKeys turns the decoder's undecoded keys into fields that say which
// product holds them: toml.Key has no array index, so the raw document is read
// again to find it.
func unknownKeys(data []byte, und []toml.Key) []unknownKey {
	var raw map[string]any
	_, _ = toml.Decode(string(data), &raw)
	topKnown := strings.Join(tomlKeys(reflect.TypeOf(Profile{})), ", ")
	prodKnown := tomlKeys(reflect.TypeOf(ProductProfile{}))
	var out []unknownKey
	seen := map[string]bool{}
	for _, k := range und {
		if len(k) >= 2 && k[0] == "product" {
			prods, _ := raw["product"].([]map[string]any)
			for i, pr := range prods {
				if _, ok := pr[k[1]]; !ok {
					continue
				}
				field := fmt.Sprintf("product[%d]", i)
				if name, ok := pr["name"].(string); ok && name != "" {
					field += " (" + name + ")"
				}
				field += "." + strings.Join(k[1:], ".")
				if !seen[field] {
					seen[field] = true
					out = append(out, unknownKey{field, k[len(k)-1], strings.Join(prodKnown, ", ")})
				}
			}
			continue
		}
		field := k.String()
		if !seen[field] {
			seen[field] = true
			out = append(out, unknownKey{field, k[len(k)-1], topKnown})
		}
	}
	return out
}
