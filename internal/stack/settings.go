package stack

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/zerocost/zerocost/internal/cronexpr"
)

// Setting describes one key under a product's `settings:`: the Settings
// field it fills, what an unset one becomes, the values it takes and why,
// and which patterns have it. SettingsTable lists every one; defaults
// (Settings.applyDefaults) and validation (Settings.validate) are driven by
// it, internal/contract takes a setting's var default and patterns from it,
// and internal/render writes a setting's var with Settings.VarText.
// docs/design.md, "How to add a setting", is the checklist.
type Setting struct {
	// Name is the YAML key under settings, which is the json tag of the
	// Settings field it fills.
	Name string
	// Patterns have the setting; a product of another pattern that sets it
	// gets "is not a setting of the <pattern> pattern".
	Patterns []string
	// Only says why the other patterns lack it; it ends that error.
	Only string
	// Default is what an unset setting becomes, of its field's type; nil: it
	// stays unset (0 or "": none), or is derived elsewhere (DefaultDoc).
	Default any
	// DefaultDoc says what an unset setting becomes when no one value can
	// (batchSize: the stack decides), and why.
	DefaultDoc string
	// DefaultAtUse leaves the field unset and applies Default where the
	// setting is read (VarText, Settings.AlertThresholds), so a check can
	// tell a value given from none.
	DefaultAtUse bool
	// Range bounds an integer setting; ByPattern narrows it for a pattern.
	// An unset setting (0) is never out of range.
	Range     *Range
	ByPattern map[string]Range
	// OneOf lists a string setting's values.
	OneOf []string
	// When says whether the setting applies given the product's other
	// settings (nil: always), and why not; it sees them with defaults.
	When func(s *Settings) (ok bool, whyNot string)
	// Check holds what a range cannot say (a cron, a URL, a list); field
	// is the setting's full name (zerocost:products[0].settings.x).
	Check func(s *Settings, field string) []error
}

// Range is an integer setting's bounds and the reason for them.
type Range struct {
	Min, Max int
	// Why ends the error: "out of range 1..100 (<Why>)".
	Why string
	// Source is where the bound comes from: a Cloudflare docs page, a
	// measurement, or zerocost's own choice and its reason.
	Source string
}

// Cloudflare's pages the bounds cite.
const (
	queuesLimits    = "https://developers.cloudflare.com/queues/platform/limits/"
	workersLimits   = "https://developers.cloudflare.com/workers/platform/limits/"
	rateLimitDocs   = "https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/"
	anthropicModels = "https://docs.anthropic.com/en/docs/about-claude/models/overview"
	// anthropicStreaming: "We strongly recommend that you use streaming for
	// long-running requests"; the SDKs refuse a non-streaming request that
	// may take more than 10 minutes.
	anthropicStreaming = "https://docs.anthropic.com/en/api/errors#long-requests"
)

// every is the Patterns of a setting every pattern has.
var every = Patterns

var asyncOnly = []string{AsyncPipeline}

// SettingsTable is every product setting. Defaults are applied and errors
// reported in this order, so a setting read by another's When comes first.
var SettingsTable = []Setting{
	// Unset: Config.defaultBatchSizes derives it (DefaultBatchSize), after
	// every product is read: it depends on whether the stack has a spend store.
	{Name: "batchSize", Patterns: asyncOnly, Only: "it configures async-pipeline's queue consumer",
		DefaultDoc: "the full packs one invocation runs, 1 with a spend store and 2 without (5 in batch mode): a delivery runs at most 10 jobs (25 without a spend store) and sends the messages past them on, a queue write, read and delete more each, so a larger batch runs more single-job messages at once but passes packs of jobs posted together on",
		Range:      &Range{1, 100, "Queues batch at most 100 messages", queuesLimits + " (batch size); the default: internal/contract/invocation DeliveryPacks"}},
	{Name: "batchTimeoutSeconds", Patterns: asyncOnly, Only: "it configures async-pipeline's queue consumer", Default: DefaultBatchTimeoutSeconds,
		Range: &Range{1, 60, "Queues wait at most 60 s for a batch", queuesLimits + " (batch wait time)"}},
	{Name: "maxRetries", Patterns: asyncOnly, Only: "it configures async-pipeline's queue consumer", Default: DefaultMaxRetries,
		Range: &Range{1, 100, "Queues retry at most 100 times", queuesLimits + " (per-message retries)"}},
	{Name: "retryDelaySeconds", Patterns: asyncOnly, Only: "it configures async-pipeline's queue consumer", Default: DefaultRetryDelaySeconds,
		Range: &Range{1, 43200, "Queues delay a retry at most 12 h", queuesLimits + " (delay on retry: 12 hours)"}},
	{Name: "maxConcurrency", Patterns: asyncOnly, Only: "it configures async-pipeline's queue consumer",
		Range: &Range{1, 250, "Queues run at most 250 concurrent consumers", queuesLimits + " (concurrent consumer invocations)"}},
	{Name: "cacheTtlSeconds", Patterns: []string{EdgeCache}, Only: "only edge-cache keeps answers", Default: DefaultCacheTTLSeconds,
		Range: &Range{60, 365 * 86400, "an answer is kept from a minute to a year",
			"zerocost's choice: an answer kept under a minute saves next to no model calls; a year outlives any model"}},
	{Name: "retentionDays", Patterns: []string{EventAgent, AsyncPipeline}, Only: "only jobs have records (edge-cache answers expire after cacheTtlSeconds)",
		Default: DefaultRetentionDays,
		Range: &Range{MinRetentionDays, 3650, "days a job's record is kept under jobs/ (dead and parked records are also kept 31 days under held/)",
			"zerocost's choice: a client reads its result within minutes (polls_per_job), so a week leaves days for a late poll; dead and parked records live on under held/ (31 days, the longest month). R2 lifecycle rules count whole days (maxAge in seconds, a day's multiple here); ten years outlives any product"}},
	{Name: "rateLimitPerMinute", Patterns: every, Default: DefaultRateLimitPerMinute,
		Range: &Range{1, 1_000_000, "requests per minute", "zerocost's sanity bound: the ratelimit binding's limit is a positive integer, " + rateLimitDocs}},
	// A public product's door only: a keyed product's customers pass their
	// tier's door (tiers) instead (workers-src/src/lib/door.ts).
	{Name: "doorLimitPerMinute", Patterns: every, // unset: Settings.DoorLimit derives it from rateLimitPerMinute
		Range: &Range{1, 1_000_000, "requests per minute from one client address of a public product (access: keys: each customer's tier limit applies instead)", "zerocost's sanity bound: the ratelimit binding's limit is a positive integer, " + rateLimitDocs},
		ByPattern: map[string]Range{AsyncPipeline: {MaxJobsPerPost, 1_000_000, "jobs per minute from one client address of a public product (access: keys: the customer's tier, counting jobs); one POST /jobs carries up to 100 jobs, each counted",
			"the Worker's MAX_BATCH_INPUTS (workers-src/src/patterns/async-pipeline.ts)"}}},
	{Name: "maxInputChars", Patterns: every, Default: DefaultMaxInputChars,
		Range: &Range{1, 1_000_000, "characters", "zerocost's sanity bound"},
		// A queue message carries the input and holds at most 128 KB; UTF-8
		// and JSON escaping take up to 4 bytes a character.
		ByPattern: map[string]Range{AsyncPipeline: {1, 30000, "a queue message holds at most 128 KB", queuesLimits + " (message size: 128 KB)"}}},
	{Name: "maxOutputTokens", Patterns: every, Default: DefaultMaxOutputTokens,
		Range: &Range{1, 64_000, "tokens", anthropicModels + " (max output of Claude Haiku 4.5 and Sonnet 4.5: 64,000 tokens)"}},
	{Name: "runner", Patterns: []string{EventAgent}, Only: "only event-agent runs its jobs on a Workflow or in waitUntil",
		Default: DefaultRunner, OneOf: Runners},
	{Name: "modelTimeoutMs", Patterns: every, Default: DefaultModelTimeoutMs,
		Range: &Range{100, MaxModelTimeoutMs, "Anthropic asks for streaming past 10 minutes and zerocost's calls do not stream",
			anthropicStreaming + " (non-streaming requests over 10 minutes)"},
		// One wave of the consumer's calls: two attempts and the slack inside 15 minutes.
		ByPattern: map[string]Range{AsyncPipeline: {100, (ConsumerWallTimeMs - PipelineSlackMs) / PipelineAttempts,
			"a delivery's two attempts must end inside the queue consumer's 15-minute wall time", queuesLimits + " (consumer wall time: 15 minutes)"}},
		Check: checkModelTimeout},
	{Name: "rateLimitNamespaceId", Patterns: every, // unset: render derives one from the script name
		Range: &Range{1, 1<<31 - 1, "a positive integer unique in the account", rateLimitDocs + " (namespace_id)"}},
	{Name: "monthlyBudgetUsd", Patterns: every, Check: checkMonthlyBudget},
	{Name: "budgetAlertWebhook", Patterns: every, Check: checkAlertWebhook},
	{Name: "budgetAlertThresholds", Patterns: every, Default: DefaultBudgetAlertThresholds, DefaultAtUse: true, Check: checkAlertThresholds},
	{Name: "modelMode", Patterns: asyncOnly, Only: "only async-pipeline can wait for the Message Batches API",
		Default: DefaultModelMode, OneOf: ModelModes},
	{Name: "batchPollCron", Patterns: asyncOnly, Only: "async-pipeline with modelMode: batch only",
		Default: DefaultBatchPollCron, When: inBatchMode, Check: checkCron},
}

// MaxJobsPerPost is the most inputs one POST /jobs of an async pipeline
// carries (the Worker's MAX_BATCH_INPUTS, workers-src/src/patterns/async-pipeline.ts).
const MaxJobsPerPost = 100

// DoorLimit is doorLimitPerMinute, the door limiter's (DOOR_LIMITER) limit
// per client address a minute: the door of a public product. A keyed
// product's requests pass their customer's tier door instead (Tiers), one
// door a request. Unset, half of rateLimitPerMinute, so that one caller
// can take at most half the product's model calls and every other caller
// shares the rest; for an async pipeline, which counts jobs, at least
// MaxJobsPerPost (one full POST).
func (s Settings) DoorLimit(pattern string) int {
	if s.DoorLimitPerMinute != 0 {
		return s.DoorLimitPerMinute
	}
	n := max(1, s.RateLimitPerMinute/2)
	if pattern == AsyncPipeline {
		n = max(n, MaxJobsPerPost)
	}
	return n
}

func inBatchMode(s *Settings) (bool, string) {
	return s.ModelMode == ModelModeBatch, fmt.Sprintf("applies only with modelMode: batch (this product is %s)", s.ModelMode)
}

func checkCron(s *Settings, field string) []error {
	if _, err := cronexpr.Parse(s.BatchPollCron); err != nil {
		return []error{errf(field, "%v", err)}
	}
	return nil
}

// SettingNamed is the row of a setting, by its YAML key.
func SettingNamed(name string) (Setting, bool) {
	i := slices.IndexFunc(SettingsTable, func(st Setting) bool { return st.Name == name })
	if i < 0 {
		return Setting{}, false
	}
	return SettingsTable[i], true
}

// settingFields maps each Settings json name to its field's index.
var settingFields = func() map[string][]int {
	out := map[string][]int{}
	for f := range reflect.TypeFor[Settings]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out[name] = f.Index
	}
	return out
}()

// field is the setting's field of s. It panics on a row without a field: a
// test holds the table to the struct.
func (st Setting) field(s *Settings) reflect.Value {
	idx, ok := settingFields[st.Name]
	if !ok {
		panic(fmt.Sprintf("stack: Settings has no field with json name %q", st.Name))
	}
	return reflect.ValueOf(s).Elem().FieldByIndex(idx)
}

// applyDefaults fills each unset setting the pattern has with its default.
// A product of an unknown pattern gets none: it fails validation anyway.
func (s *Settings) applyDefaults(pattern string) {
	for _, st := range SettingsTable {
		if st.Default == nil || st.DefaultAtUse || !slices.Contains(st.Patterns, pattern) {
			continue
		}
		if st.When != nil {
			if ok, _ := st.When(s); !ok {
				continue
			}
		}
		if v := st.field(s); v.IsZero() {
			v.Set(reflect.ValueOf(st.Default))
		}
	}
}

// validate checks every set setting against its row; sf is the settings'
// field (zerocost:products[0].settings). Of a product whose pattern is
// unknown only the values are checked.
func (s *Settings) validate(sf, pattern string) []error {
	known := slices.Contains(Patterns, pattern)
	var errs []error
	for _, st := range SettingsTable {
		v := st.field(s)
		if v.IsZero() {
			continue
		}
		field := sf + "." + st.Name
		if known && !slices.Contains(st.Patterns, pattern) {
			msg := "is not a setting of the " + pattern + " pattern"
			if st.Only != "" {
				msg += ": " + st.Only
			}
			errs = append(errs, errf(field, "%s", msg))
			continue
		}
		if known && st.When != nil {
			if ok, why := st.When(s); !ok {
				errs = append(errs, errf(field, "%s", why))
				continue
			}
		}
		errs = append(errs, st.checkValue(s, v, field, pattern)...)
	}
	return errs
}

// checkValue checks a set value against the row's range, values and Check.
func (st Setting) checkValue(s *Settings, v reflect.Value, field, pattern string) []error {
	r := st.Range
	if pr, ok := st.ByPattern[pattern]; ok {
		r = &pr
	}
	if r != nil {
		if n := int(v.Int()); n < r.Min || n > r.Max {
			return []error{errf(field, "%d is out of range %d..%d (%s)", n, r.Min, r.Max, r.Why)}
		}
	}
	if st.OneOf != nil && !slices.Contains(st.OneOf, v.String()) {
		return []error{errf(field, "%q is not a valid %s (one of: %s)", v.String(), st.Name, strings.Join(st.OneOf, ", "))}
	}
	if st.Check != nil {
		return st.Check(s, field)
	}
	return nil
}

// VarText is a setting as its Worker var carries it: an integer in decimal,
// a string as is, a budget by FormatUSD, a list of percents by
// ThresholdsVar; a DefaultAtUse setting left unset is its default.
func (s *Settings) VarText(name string) string {
	st, ok := SettingNamed(name)
	if !ok {
		panic(fmt.Sprintf("stack: no setting %q", name))
	}
	v := st.field(s)
	if v.IsZero() && st.DefaultAtUse {
		v = reflect.ValueOf(st.Default)
	}
	return varText(v)
}

// VarDefault is the default of the setting's var as contract.gen.ts's
// VAR_DEFAULTS holds it: an integer stays a number, anything else is its
// var text; nil when the setting has no default.
func (st Setting) VarDefault() any {
	if st.Default == nil {
		return nil
	}
	if n, ok := st.Default.(int); ok {
		return n
	}
	return varText(reflect.ValueOf(st.Default))
}

func varText(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Int:
		return strconv.Itoa(int(v.Int()))
	case reflect.String:
		return v.String()
	case reflect.Float64:
		return FormatUSD(v.Float())
	case reflect.Slice:
		if t, ok := v.Interface().([]int); ok {
			return ThresholdsVar(t)
		}
	}
	panic(fmt.Sprintf("stack: no var text for a setting of type %s", v.Type()))
}
