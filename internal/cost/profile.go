package cost

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/zerocost/zerocost/internal/stack"
)

// Upper bounds of the profile's values: far beyond any real product, low
// enough that no forecast overflows.
const (
	maxRequests    = 1e12 // a month
	maxTokens      = 1e7  // a call
	maxResultBytes = 1e10
	maxCPUms       = 900_000 // 15 minutes, the longest a Worker invocation runs
	maxPollsPerJob = 1e6
	// maxJobsPerRequest is async-pipeline's MAX_BATCH_INPUTS (workers-src/src/patterns/async-pipeline.ts).
	maxJobsPerRequest = 100
	maxBudgetUSD      = 1e9
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
	DefaultJobsPerRequest   = 1
	DefaultResultBytes      = 2000
	DefaultCPUms            = 2
	DefaultBatchPollMinutes = 5
	DefaultBatchHours       = 1
	// DefaultCustomers is how many customers' keys call a product with
	// access = keys when the profile does not say.
	DefaultCustomers = 10
	// DefaultIsolates is how many Worker isolates one customer's requests
	// reach at once. An assumption, not a measurement: Cloudflare runs a
	// Worker in many isolates, one or a few per location a client reaches;
	// each keeps its own cache of key records (lib/keys.ts CACHE_TTL_MS).
	DefaultIsolates = 3
	maxCustomers    = 1e9
	maxIsolates     = 1e6
)

// Profile is a usage profile: what a month of traffic looks like.
type Profile struct {
	Plan string `toml:"plan"`
	Days int    `toml:"days"`
	// MonthlyBudgetUSD caps the products' model spend together (the stack's
	// zerocost:monthlyBudgetUsd); nil when unset.
	MonthlyBudgetUSD *float64         `toml:"monthly_budget_usd"`
	Products         []ProductProfile `toml:"product"`

	Path string `toml:"-"`
	// NoTraffic names the stack's products the profile gives no traffic
	// for: they are priced with none.
	NoTraffic []string `toml:"-"`
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
	Runner string `toml:"runner"`
	// Access is the product's access: "keys" (the default, as in a stack:
	// every request but GET /health checks a customer key in KV) or
	// "public".
	Access string `toml:"access"`
	// Customers is how many customers send the product's requests, and
	// Isolates how many Worker isolates each customer's requests reach
	// (access = keys only): they bound the KV reads of the key lookups.
	Customers        *float64 `toml:"customers"`
	Isolates         *float64 `toml:"isolates"`
	RetryRate        *float64 `toml:"retry_rate"`         // async-pipeline
	DeadLetterRate   *float64 `toml:"dead_letter_rate"`   // async-pipeline
	MessagesPerBatch *float64 `toml:"messages_per_batch"` // async-pipeline
	// JobsPerRequest is how many jobs a client posts at once (async-pipeline,
	// POST /jobs with "inputs"): they travel packed, contract.PackMaxJobs a
	// queue message. 1 (the default): every POST one job, one message.
	JobsPerRequest *float64 `toml:"jobs_per_request"`

	// Retention is what the stack's settings keep in R2 (the product's
	// bucket lifecycle rules), never the profile's: the defaults, or the
	// stack's when `cost forecast --stack` reads it (SetRetention).
	Retention stack.Settings `toml:"-"`
}

// removedKeys are product keys earlier versions read, and why they went: a
// profile that still sets one gets this instead of "unknown key".
var removedKeys = map[string]string{
	"kv_inline_max_bytes": "removed: edge-cache answers of every size live in R2 (and the Cache API), not KV",
	"cache_ttl_seconds":   "removed: the cache's TTL changes no free-tier count (a miss writes the answer once either way); cache_hit_rate is what matters",
	"job_ttl_seconds":     "removed: a job's record lives in R2, not in KV with a TTL; the stack's lifecycle rules say how long results are kept",
}

// removedTopKeys are top-level keys earlier versions read.
var removedTopKeys = map[string]string{
	"retention_months": "removed: R2 lifecycle rules expire records and answers; the forecast keeps what the stack's settings keep (settings.retentionDays, cacheTtlSeconds; --stack reads them)",
}

// onlyFor lists the fields that apply to some patterns only.
var onlyFor = map[string][]string{
	"cache_hit_rate":     {EdgeCache},
	"polls_per_job":      {EventAgent, AsyncPipeline},
	"retry_rate":         {AsyncPipeline},
	"dead_letter_rate":   {AsyncPipeline},
	"messages_per_batch": {AsyncPipeline},
	"jobs_per_request":   {AsyncPipeline},
	"batch_poll_minutes": {AsyncPipeline},
	"batch_hours":        {AsyncPipeline},
}

// LoadProfile reads and checks a usage profile that describes its products
// fully, without a stack.
func LoadProfile(path string) (*Profile, error) { return LoadProfileFor(path, nil) }

// LoadProfileFor reads and checks a usage profile against a stack (nil: none).
func LoadProfileFor(path string, st *StackFacts) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseProfileFor(path, data, st)
}

// ParseProfile decodes a usage profile strictly: an unknown key, a value of the
// wrong type, a missing required field or a value out of range is an error
// that names the field. It applies the defaults.
func ParseProfile(path string, data []byte) (*Profile, error) {
	return ParseProfileFor(path, data, nil)
}

// ParseProfileFor is ParseProfile against a stack: with st, the stack gives
// each product's pattern, model, model mode and budgets, and the stack's
// budget; the profile gives the traffic. A key of the profile that restates
// the stack is accepted while it agrees, and is otherwise an error naming
// it. The stack's products the profile omits are priced with no traffic.
func ParseProfileFor(path string, data []byte, st *StackFacts) (*Profile, error) {
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
			if why, ok := removedKeys[e.key]; ok && strings.HasPrefix(e.field, "product[") {
				add(e.field, "%s", why)
				continue
			}
			if why, ok := removedTopKeys[e.key]; ok && !strings.HasPrefix(e.field, "product[") {
				add(e.field, "%s", why)
				continue
			}
			add(e.field, "unknown key (known: %s)", e.known)
		}
	}
	if st != nil {
		p.fromStack(st, add)
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
		pp.check(func(name, format string, args ...any) { add(f(name), format, args...) })
		pp.applyDefaults()
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
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
