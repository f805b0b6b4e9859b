// Package stack holds a zerocost stack's configuration: the products listed under
// the `zerocost:` namespace of Pulumi.<stack>.yaml, their defaults and validation.
//
// The same code reads the configuration for the CLI (straight from the YAML file,
// see LoadFile) and for the Pulumi program (from Pulumi's config, see FromValues),
// so both see the same products with the same defaults and the same errors.
package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/zerocost/zerocost/internal/cronexpr"
	"github.com/zerocost/zerocost/internal/names"
)

// Namespace is the Pulumi config namespace zerocost reads.
const Namespace = "zerocost"

// Pattern names.
const (
	EventAgent    = "event-agent"
	AsyncPipeline = "async-pipeline"
	EdgeCache     = "edge-cache"
)

// Patterns lists the supported patterns in a stable order.
var Patterns = []string{EventAgent, AsyncPipeline, EdgeCache}

// Defaults, from the seed article where it gives a value.
const (
	DefaultModel               = "claude-haiku-4-5"
	DefaultCompatibilityDate   = "2026-06-01"
	DefaultBatchSize           = 5
	DefaultBatchTimeoutSeconds = 10
	DefaultMaxRetries          = 3
	DefaultRetryDelaySeconds   = 30
	DefaultCacheTTLSeconds     = 86400
	DefaultRateLimitPerMinute  = 60
	DefaultMaxInputChars       = 4000
	DefaultMaxOutputTokens     = 1024
	DefaultModelTimeoutMs      = 20000
	DefaultAnthropicBaseURL    = "https://api.anthropic.com"
	// DefaultModelMode is an async pipeline's modelMode when unset.
	DefaultModelMode = ModelModeRealtime
	// DefaultBatchPollCron is the cron trigger that polls the open Message
	// Batches of an async pipeline in batch mode: every 5 minutes is 288 runs
	// a day (0.3% of Workers Free's 100,000 requests) and adds at most 5
	// minutes to results that take minutes to hours.
	DefaultBatchPollCron = "*/5 * * * *"
	// DefaultBudgetAlertThresholdsVar is DefaultBudgetAlertThresholds as
	// the BUDGET_ALERT_THRESHOLDS var writes it.
	DefaultBudgetAlertThresholdsVar = "50,80,100"
)

// Model modes of an async pipeline (settings.modelMode).
const (
	// ModelModeRealtime: one Messages API call per job, results in seconds.
	ModelModeRealtime = "realtime"
	// ModelModeBatch: the jobs go to the Message Batches API, at half the
	// token price, with results in minutes to hours (at most 24 h); a cron
	// trigger (settings.batchPollCron) polls the batches.
	ModelModeBatch = "batch"
)

// ModelModes lists the model modes.
var ModelModes = []string{ModelModeRealtime, ModelModeBatch}

// Runners of an event agent's jobs (settings.runner).
const (
	// RunnerWorkflow: each job is one Cloudflare Workflows instance whose
	// steps call the model with their own retries; no wall-time cap.
	RunnerWorkflow = "workflow"
	// RunnerWaitUntil: the job runs in the POST's ctx.waitUntil, which the
	// platform cuts 30 s after the response.
	RunnerWaitUntil = "waitUntil"
	// DefaultRunner is an event agent's runner when unset.
	DefaultRunner = RunnerWorkflow
)

// Runners lists the runners.
var Runners = []string{RunnerWorkflow, RunnerWaitUntil}

// DefaultBudgetAlertThresholds are the percents of a budget whose crossing
// sends an alert when a product sets no budgetAlertThresholds.
var DefaultBudgetAlertThresholds = []int{50, 80, 100}

// Cloudflare limits the settings are checked against.
const (
	maxBatchSize         = 100
	maxBatchTimeout      = 60
	maxRetries           = 100
	maxRetryDelaySeconds = 43200
	maxPlainTextVarBytes = 5 * 1024
	maxQueueInputChars   = 30000
)

// minCacheTTLSeconds is zerocost's floor for cacheTtlSeconds: an answer kept
// for less than a minute saves next to no model calls.
const minCacheTTLSeconds = 60

// Config keys (without the namespace).
const (
	KeyAccountID           = "accountId"
	KeyProducts            = "products"
	KeyAnthropicAPIKey     = "anthropicApiKey"
	KeyAuthToken           = "authToken"
	KeyWorkersDevSubdomain = "workersDevSubdomain"
	KeyCompatibilityDate   = "compatibilityDate"
	KeyRetainData          = "retainData"
	KeyAnthropicBaseURL    = "anthropicBaseUrl"
	// KeyMonthlyBudgetUSD caps the sum of every product's model spend in a
	// calendar month (UTC), in USD.
	KeyMonthlyBudgetUSD = "monthlyBudgetUsd"
	// KeyBudgetAlertWebhook is the stack's budget alert webhook URL, a
	// secret (it carries a token); a product's token-free
	// settings.budgetAlertWebhook takes precedence for that product.
	KeyBudgetAlertWebhook = "budgetAlertWebhook"
)

var knownKeys = map[string]bool{
	KeyAccountID: true, KeyProducts: true, KeyAnthropicAPIKey: true, KeyAuthToken: true,
	KeyWorkersDevSubdomain: true, KeyCompatibilityDate: true, KeyRetainData: true,
	KeyAnthropicBaseURL: true, KeyMonthlyBudgetUSD: true, KeyBudgetAlertWebhook: true,
}

// Config is a validated stack configuration with every default applied.
type Config struct {
	Stack               string `json:"stack"`
	AccountID           string `json:"account_id"`
	WorkersDevSubdomain string `json:"workers_dev_subdomain,omitempty"`
	CompatibilityDate   string `json:"compatibility_date"`
	RetainData          bool   `json:"retain_data"`
	AnthropicBaseURL    string `json:"anthropic_base_url"`
	// MonthlyBudgetUSD is the stack's cap on the month's model spend of
	// all products together; 0: none.
	MonthlyBudgetUSD float64   `json:"monthly_budget_usd,omitempty"`
	Products         []Product `json:"products"`
	// Which secrets are configured. Their values never enter this struct.
	HasAnthropicAPIKey    bool `json:"has_anthropic_api_key"`
	HasAuthToken          bool `json:"has_auth_token"`
	HasBudgetAlertWebhook bool `json:"has_budget_alert_webhook,omitempty"`
}

// HasBudget says whether the stack has a spend guard: a stack cap or a
// product budget. Then every product's Worker binds the stack's spend
// database, so that a product without a budget of its own still counts
// toward the cap.
func (c *Config) HasBudget() bool {
	if c.MonthlyBudgetUSD > 0 {
		return true
	}
	for _, p := range c.Products {
		if p.Settings.MonthlyBudgetUSD > 0 {
			return true
		}
	}
	return false
}

// Product is one AI product: a pattern, its settings and its customisations.
type Product struct {
	Name             string        `json:"name"`
	Pattern          string        `json:"pattern"`
	Model            string        `json:"model,omitempty"`
	SystemPrompt     string        `json:"systemPrompt,omitempty"`
	SystemPromptFile string        `json:"systemPromptFile,omitempty"`
	Hooks            string        `json:"hooks,omitempty"`
	Route            *Route        `json:"route,omitempty"`
	CustomDomain     *CustomDomain `json:"customDomain,omitempty"`
	Crons            []string      `json:"crons,omitempty"`
	Settings         Settings      `json:"settings"`
}

// Route maps a zone route pattern to the product's Worker.
type Route struct {
	Pattern string `json:"pattern"`
	ZoneID  string `json:"zoneId"`
}

// CustomDomain attaches a hostname of a zone to the product's Worker.
type CustomDomain struct {
	Hostname string `json:"hostname"`
	ZoneID   string `json:"zoneId"`
}

// Settings are a pattern's knobs. Zero means "use the default"; settings a
// pattern does not use are left at zero after defaults are applied.
type Settings struct {
	BatchSize            int `json:"batchSize,omitempty"`
	BatchTimeoutSeconds  int `json:"batchTimeoutSeconds,omitempty"`
	MaxRetries           int `json:"maxRetries,omitempty"`
	RetryDelaySeconds    int `json:"retryDelaySeconds,omitempty"`
	CacheTTLSeconds      int `json:"cacheTtlSeconds,omitempty"`
	RateLimitPerMinute   int `json:"rateLimitPerMinute,omitempty"`
	MaxInputChars        int `json:"maxInputChars,omitempty"`
	MaxOutputTokens      int `json:"maxOutputTokens,omitempty"`
	ModelTimeoutMs       int `json:"modelTimeoutMs,omitempty"`
	RateLimitNamespaceID int `json:"rateLimitNamespaceId,omitempty"`
	MaxBatchConcurrency  int `json:"maxConcurrency,omitempty"`
	// MonthlyBudgetUSD is the product's model budget for a calendar month
	// (UTC) in USD; 0: none.
	MonthlyBudgetUSD float64 `json:"monthlyBudgetUsd,omitempty"`
	// BudgetAlertWebhook is a token-free URL alerts are POSTed to; a URL
	// carrying a token belongs in the secret zerocost:budgetAlertWebhook.
	BudgetAlertWebhook string `json:"budgetAlertWebhook,omitempty"`
	// BudgetAlertThresholds are percents of the budget, ascending; when a
	// budget applies and none are set, DefaultBudgetAlertThresholds.
	BudgetAlertThresholds []int `json:"budgetAlertThresholds,omitempty"`
	// ModelMode is how an async pipeline calls the model: ModelModeRealtime
	// (the default) or ModelModeBatch. Other patterns leave it empty.
	ModelMode string `json:"modelMode,omitempty"`
	// BatchPollCron is the cron trigger polling the Message Batches in batch
	// mode (default DefaultBatchPollCron); empty in realtime mode.
	BatchPollCron string `json:"batchPollCron,omitempty"`
	// Runner is what runs an event agent's jobs: RunnerWorkflow (the
	// default) or RunnerWaitUntil. Other patterns leave it empty.
	Runner string `json:"runner,omitempty"`
}

// Value is one raw config value: Text holds a plain string or, for structured
// values, their JSON. Secret marks values Pulumi stores encrypted; their Text is
// never read by the CLI.
type Value struct {
	Text   string
	Secret bool
}

// Error is a configuration error that names the offending field.
type Error struct {
	Field string // e.g. "zerocost:products[1].pattern"
	Msg   string
}

func (e *Error) Error() string { return e.Field + ": " + e.Msg }

func errf(field, format string, args ...any) *Error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// FromValues builds a Config from raw values keyed by their name without the
// namespace ("accountId", "products", ...). It applies defaults and validates
// everything; the returned error joins one *Error per problem.
func FromValues(stackName string, values map[string]Value) (*Config, error) {
	var errs []error
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !knownKeys[k] {
			known := sortedKnownKeys()
			errs = append(errs, unknownKey(Namespace+":"+k, "unknown key", suggest(k, known), known))
		}
	}

	cfg := &Config{
		Stack:             stackName,
		CompatibilityDate: DefaultCompatibilityDate,
		RetainData:        true,
		AnthropicBaseURL:  DefaultAnthropicBaseURL,
	}
	if !names.IsStackName(stackName) {
		errs = append(errs, errf("stack", "%q is not a valid stack name: %s", stackName, names.StackNameRule))
	}

	cfg.AccountID = values[KeyAccountID].Text
	switch {
	case cfg.AccountID == "":
		errs = append(errs, errf(Namespace+":"+KeyAccountID, "missing: set it with `pulumi config set zerocost:accountId <32-hex account id>`"))
	case !names.IsAccountID(cfg.AccountID):
		errs = append(errs, errf(Namespace+":"+KeyAccountID, "%q is not a Cloudflare account id (32 hexadecimal characters)", cfg.AccountID))
	}
	if v, ok := values[KeyAnthropicAPIKey]; ok {
		if !v.Secret {
			errs = append(errs, errf(Namespace+":"+KeyAnthropicAPIKey, "must be a secret: set it with `pulumi config set --secret zerocost:anthropicApiKey`"))
		}
		cfg.HasAnthropicAPIKey = v.Text != "" || v.Secret
	}
	if v, ok := values[KeyAuthToken]; ok {
		if !v.Secret {
			errs = append(errs, errf(Namespace+":"+KeyAuthToken, "must be a secret: set it with `pulumi config set --secret zerocost:authToken`"))
		}
		cfg.HasAuthToken = v.Text != "" || v.Secret
	}
	if v, ok := values[KeyWorkersDevSubdomain]; ok {
		cfg.WorkersDevSubdomain = v.Text
		if !names.IsDNSLabel(v.Text) {
			errs = append(errs, errf(Namespace+":"+KeyWorkersDevSubdomain, "%q is not a valid subdomain label", v.Text))
		}
	}
	if v, ok := values[KeyCompatibilityDate]; ok {
		cfg.CompatibilityDate = v.Text
		if !names.IsDate(v.Text) {
			errs = append(errs, errf(Namespace+":"+KeyCompatibilityDate, "%q is not a date of the form YYYY-MM-DD", v.Text))
		}
	}
	if v, ok := values[KeyRetainData]; ok {
		b, err := strconv.ParseBool(v.Text)
		if err != nil {
			errs = append(errs, errf(Namespace+":"+KeyRetainData, "%q is not true or false", v.Text))
		}
		cfg.RetainData = b
	}
	if v, ok := values[KeyAnthropicBaseURL]; ok {
		cfg.AnthropicBaseURL = strings.TrimRight(v.Text, "/")
		if !strings.HasPrefix(v.Text, "https://") && !strings.HasPrefix(v.Text, "http://") {
			errs = append(errs, errf(Namespace+":"+KeyAnthropicBaseURL, "%q is not an http(s) URL", v.Text))
		}
	}

	if v, ok := values[KeyMonthlyBudgetUSD]; ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v.Text), 64)
		switch {
		case err != nil:
			errs = append(errs, errf(Namespace+":"+KeyMonthlyBudgetUSD, "%q is not a number of US dollars", v.Text))
		case !validBudget(f):
			errs = append(errs, errf(Namespace+":"+KeyMonthlyBudgetUSD, "%s must be more than 0 (US dollars a month)", v.Text))
		default:
			cfg.MonthlyBudgetUSD = f
		}
	}
	if v, ok := values[KeyBudgetAlertWebhook]; ok {
		field := Namespace + ":" + KeyBudgetAlertWebhook
		if !v.Secret {
			errs = append(errs, errf(field, "must be a secret (a webhook URL carries a token): set it with `pulumi config set --secret %s <url>`, or give a token-free URL in a product's settings.budgetAlertWebhook", field))
		}
		cfg.HasBudgetAlertWebhook = v.Text != "" || v.Secret
	}

	prods, perrs := parseProducts(values[KeyProducts])
	errs = append(errs, perrs...)
	cfg.Products = prods
	errs = append(errs, cfg.checkBudgets()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// KnownKeys lists the config keys zerocost reads, without the namespace.
func KnownKeys() []string { return sortedKnownKeys() }

func sortedKnownKeys() []string {
	out := make([]string, 0, len(knownKeys))
	for k := range knownKeys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func parseProducts(v Value) ([]Product, []error) {
	field := Namespace + ":" + KeyProducts
	if strings.TrimSpace(v.Text) == "" {
		return nil, []error{errf(field, "missing: list at least one product (name, pattern)")}
	}
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(v.Text), &raws); err != nil {
		return nil, []error{errf(field, "must be a list of products: %v", err)}
	}
	if len(raws) == 0 {
		return nil, []error{errf(field, "is empty: list at least one product")}
	}
	var errs []error
	prods := make([]Product, 0, len(raws))
	seen := map[string]int{}
	for i, raw := range raws {
		pf := fmt.Sprintf("%s[%d]", field, i)
		// Every unknown key, at any level, is reported, with its path and
		// the key that was meant; the rest of the product is still decoded
		// and checked, so one run shows every problem.
		errs = append(errs, unknownProductKeys(pf, raw)...)
		var p Product
		if err := json.Unmarshal(raw, &p); err != nil {
			errs = append(errs, jsonErr(pf, err))
			continue
		}
		if j, dup := seen[p.Name]; dup && p.Name != "" {
			errs = append(errs, errf(pf+".name", "%q is used by %s[%d] too: product names must be unique", p.Name, field, j))
		}
		seen[p.Name] = i
		errs = append(errs, p.applyDefaults(pf)...)
		prods = append(prods, p)
	}
	return prods, errs
}

// jsonErr is the error of a product that does not decode; a value of the
// wrong type is named by its path (zerocost:products[0].settings.batchSize).
func jsonErr(field string, err error) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			field += "." + te.Field
		}
		return errf(field, "must be %s, not a JSON %s", typeName(te.Type), te.Value)
	}
	return errf(field, "%s", strings.TrimPrefix(err.Error(), "json: "))
}

// typeName says what a config value must be, in the words of the YAML.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(typeName(t.Elem()), "a "), "an ") + "s"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "a map of keys"
	}
	return "a " + t.String()
}

// patternSettings are the settings only some patterns have: one of these
// patterns that leaves it unset gets the default (0: none), and a product of
// another pattern that sets it is an error. The errors come in this order.
var patternSettings = []struct {
	name     string
	field    func(*Settings) *int
	def      int
	patterns []string
}{
	{"batchSize", func(s *Settings) *int { return &s.BatchSize }, DefaultBatchSize, []string{AsyncPipeline}},
	{"batchTimeoutSeconds", func(s *Settings) *int { return &s.BatchTimeoutSeconds }, DefaultBatchTimeoutSeconds, []string{AsyncPipeline}},
	{"maxRetries", func(s *Settings) *int { return &s.MaxRetries }, DefaultMaxRetries, []string{AsyncPipeline}},
	{"retryDelaySeconds", func(s *Settings) *int { return &s.RetryDelaySeconds }, DefaultRetryDelaySeconds, []string{AsyncPipeline}},
	{"maxConcurrency", func(s *Settings) *int { return &s.MaxBatchConcurrency }, 0, []string{AsyncPipeline}},
	{"cacheTtlSeconds", func(s *Settings) *int { return &s.CacheTTLSeconds }, DefaultCacheTTLSeconds, []string{EdgeCache}},
}

// applyDefaults fills zero settings with the pattern's defaults and validates the product.
func (p *Product) applyDefaults(field string) []error {
	var errs []error
	add := func(e *Error) { errs = append(errs, e) }

	if p.Name == "" {
		add(errf(field+".name", "missing"))
	} else if !names.IsProductName(p.Name) {
		add(errf(field+".name", "%q is not a valid product name: %s", p.Name, names.ProductNameRule))
	}
	known := slices.Contains(Patterns, p.Pattern)
	if !known {
		add(errf(field+".pattern", "%q is not a pattern zerocost knows (one of: %s)", p.Pattern, strings.Join(Patterns, ", ")))
	}
	if p.Model == "" {
		p.Model = DefaultModel
	}
	if p.SystemPrompt != "" && p.SystemPromptFile != "" {
		add(errf(field+".systemPromptFile", "give systemPrompt or systemPromptFile, not both"))
	}
	if len(p.SystemPrompt) > maxPlainTextVarBytes {
		add(errf(field+".systemPrompt", "is %d bytes; a Worker variable holds at most %d", len(p.SystemPrompt), maxPlainTextVarBytes))
	}
	if p.Route != nil && p.CustomDomain != nil {
		add(errf(field+".customDomain", "give route or customDomain, not both"))
	}
	if p.Route != nil {
		if p.Route.Pattern == "" || strings.Contains(p.Route.Pattern, "://") {
			add(errf(field+".route.pattern", "%q must be a route pattern like example.com/ai/* (no scheme)", p.Route.Pattern))
		}
		if !names.IsZoneID(p.Route.ZoneID) {
			add(errf(field+".route.zoneId", "%q is not a zone id (32 hexadecimal characters)", p.Route.ZoneID))
		}
	}
	if p.CustomDomain != nil {
		if !names.IsHostname(p.CustomDomain.Hostname) {
			add(errf(field+".customDomain.hostname", "%q is not a hostname", p.CustomDomain.Hostname))
		}
		if !names.IsZoneID(p.CustomDomain.ZoneID) {
			add(errf(field+".customDomain.zoneId", "%q is not a zone id (32 hexadecimal characters)", p.CustomDomain.ZoneID))
		}
	}
	for i, c := range p.Crons {
		if _, err := cronexpr.Parse(c); err != nil {
			add(errf(fmt.Sprintf("%s.crons[%d]", field, i), "%v", err))
		}
	}

	s := &p.Settings
	sf := field + ".settings"
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&s.RateLimitPerMinute, DefaultRateLimitPerMinute)
	def(&s.MaxInputChars, DefaultMaxInputChars)
	def(&s.MaxOutputTokens, DefaultMaxOutputTokens)
	def(&s.ModelTimeoutMs, DefaultModelTimeoutMs)
	if known {
		for _, ps := range patternSettings {
			v := ps.field(s)
			if !slices.Contains(ps.patterns, p.Pattern) {
				if *v != 0 {
					add(errf(sf+"."+ps.name, "is not a setting of the %s pattern", p.Pattern))
				}
				continue
			}
			def(v, ps.def)
		}
	}
	rng := func(name string, v, lo, hi int, why string) {
		if v != 0 && (v < lo || v > hi) {
			add(errf(sf+"."+name, "%d is out of range %d..%d (%s)", v, lo, hi, why))
		}
	}
	rng("cacheTtlSeconds", s.CacheTTLSeconds, minCacheTTLSeconds, 365*86400, "an answer is kept from a minute to a year")
	rng("batchSize", s.BatchSize, 1, maxBatchSize, "Queues batch at most 100 messages")
	rng("batchTimeoutSeconds", s.BatchTimeoutSeconds, 1, maxBatchTimeout, "Queues wait at most 60 s for a batch")
	rng("maxRetries", s.MaxRetries, 1, maxRetries, "Queues retry at most 100 times")
	rng("retryDelaySeconds", s.RetryDelaySeconds, 1, maxRetryDelaySeconds, "Queues delay a retry at most 12 h")
	rng("maxConcurrency", s.MaxBatchConcurrency, 1, 250, "Queues run at most 250 concurrent consumers")
	rng("rateLimitPerMinute", s.RateLimitPerMinute, 1, 1_000_000, "requests per minute")
	rng("maxInputChars", s.MaxInputChars, 1, 1_000_000, "characters")
	if p.Pattern == AsyncPipeline {
		// A queue message carries the input and is at most 128 KB; UTF-8 and
		// JSON escaping take up to 4 bytes a character.
		rng("maxInputChars", s.MaxInputChars, 1, maxQueueInputChars, "a queue message holds at most 128 KB")
	}
	rng("maxOutputTokens", s.MaxOutputTokens, 1, 64_000, "tokens")
	rng("rateLimitNamespaceId", s.RateLimitNamespaceID, 1, 1<<31-1, "a positive integer unique in the account")
	errs = append(errs, s.checkBudget(sf)...)
	if known {
		errs = append(errs, s.checkModelMode(sf, p.Pattern)...)
		errs = append(errs, s.checkRunner(sf, p.Pattern)...)
		errs = append(errs, s.checkModelTimeout(sf, p.Pattern)...)
	}
	return errs
}

// checkModelMode defaults and checks modelMode and batchPollCron: an async
// pipeline's, realtime unless set; every other pattern calls the model while
// a request waits, so setting them there is an error.
func (s *Settings) checkModelMode(sf, pattern string) []error {
	var errs []error
	if pattern != AsyncPipeline {
		if s.ModelMode != "" {
			errs = append(errs, errf(sf+".modelMode", "is not a setting of the %s pattern: only async-pipeline can wait for the Message Batches API", pattern))
		}
		if s.BatchPollCron != "" {
			errs = append(errs, errf(sf+".batchPollCron", "is not a setting of the %s pattern (async-pipeline with modelMode: batch only)", pattern))
		}
		return errs
	}
	if s.ModelMode == "" {
		s.ModelMode = DefaultModelMode
	}
	if !slices.Contains(ModelModes, s.ModelMode) {
		errs = append(errs, errf(sf+".modelMode", "%q is not a model mode (one of: %s)", s.ModelMode, strings.Join(ModelModes, ", ")))
		return errs
	}
	if s.ModelMode != ModelModeBatch {
		if s.BatchPollCron != "" {
			errs = append(errs, errf(sf+".batchPollCron", "applies only with modelMode: batch (this product is %s)", s.ModelMode))
		}
		return errs
	}
	if s.BatchPollCron == "" {
		s.BatchPollCron = DefaultBatchPollCron
	}
	if _, err := cronexpr.Parse(s.BatchPollCron); err != nil {
		errs = append(errs, errf(sf+".batchPollCron", "%v", err))
	}
	return errs
}

// CronTriggers are the cron triggers of a product: its own, then, in batch
// mode, the batch poller's unless one of its own is the same schedule.
func (p *Product) CronTriggers() []string {
	crons := slices.Clone(p.Crons)
	if p.Settings.ModelMode == ModelModeBatch && p.Settings.BatchPollCron != "" && !slices.Contains(crons, p.Settings.BatchPollCron) {
		crons = append(crons, p.Settings.BatchPollCron)
	}
	return crons
}

// checkRunner defaults and checks runner: an event agent's, DefaultRunner
// unless set; every other pattern has its own way to run a job.
func (s *Settings) checkRunner(sf, pattern string) []error {
	if pattern != EventAgent {
		if s.Runner != "" {
			return []error{errf(sf+".runner", "is not a setting of the %s pattern (event-agent only)", pattern)}
		}
		return nil
	}
	if s.Runner == "" {
		s.Runner = DefaultRunner
	}
	if !slices.Contains(Runners, s.Runner) {
		return []error{errf(sf+".runner", "%q is not a runner (one of: %s)", s.Runner, strings.Join(Runners, ", "))}
	}
	return nil
}

// Bounds of one model attempt (settings.modelTimeoutMs).
const (
	// MaxWaitUntilModelTimeoutMs: an event agent on the waitUntil runner
	// calls the model inside ctx.waitUntil, which the platform cancels 30 s
	// after the response (developers.cloudflare.com/workers/runtime-apis/context/),
	// leaving time for the record's write.
	MaxWaitUntilModelTimeoutMs = 25_000
	// MaxModelTimeoutMs: Anthropic's API documentation asks for streaming
	// for requests that may take longer than 10 minutes (its SDKs refuse a
	// non-streaming request expected to; networks may drop an idle
	// connection by then), and zerocost's calls do not stream. A Workflow
	// step, a request whose client stays connected and a queue consumer
	// (15 min) have no tighter bound of their own.
	MaxModelTimeoutMs = 600_000
	// ConsumerWallTimeMs is a queue consumer invocation's wall time
	// (developers.cloudflare.com/queues/platform/limits/: 15 minutes).
	ConsumerWallTimeMs = 15 * 60_000
	// WorkersFreeConnections is how many outgoing connections a Worker
	// invocation holds at once (developers.cloudflare.com/workers/platform/limits/:
	// 6 simultaneous open connections per request): a consumer's batch calls
	// the model in waves of this many.
	WorkersFreeConnections = 6
	// PipelineAttempts is how many attempts the async pipeline's consumer
	// gives one job's model call, and PipelineSlackMs what it adds to their
	// timeouts (workers-src/src/patterns/async-pipeline.ts).
	PipelineAttempts = 2
	PipelineSlackMs  = 5_000
)

// checkModelTimeout checks modelTimeoutMs against what runs the call: 25 s
// inside waitUntil, otherwise up to MaxModelTimeoutMs; an async pipeline's
// batch must also end inside the consumer's 15-minute wall time.
func (s *Settings) checkModelTimeout(sf, pattern string) []error {
	v := s.ModelTimeoutMs
	hi, why := MaxModelTimeoutMs, "Anthropic asks for streaming past 10 minutes and zerocost's calls do not stream"
	if pattern == EventAgent && s.Runner == RunnerWaitUntil {
		hi, why = MaxWaitUntilModelTimeoutMs, "with runner: waitUntil one model attempt must end before the platform's 30 s waitUntil cap; runner: workflow has no such cap"
	}
	if v < 100 || v > hi {
		return []error{errf(sf+".modelTimeoutMs", "%d is out of range %d..%d (%s)", v, 100, hi, why)}
	}
	if pattern == AsyncPipeline && s.ModelMode == ModelModeRealtime {
		if need := PipelineBatchMs(s.BatchSize, v); need > ConsumerWallTimeMs {
			return []error{errf(sf+".modelTimeoutMs", "%d ms with batchSize %d cannot finish inside the queue consumer's 15-minute wall time: the batch calls the model %d at a time, %d attempts of up to %d ms each, so a batch may take %.1f min; lower batchSize or modelTimeoutMs",
				v, s.BatchSize, WorkersFreeConnections, PipelineAttempts, v, float64(need)/60_000)}
		}
	}
	return nil
}

// PipelineBatchMs is the longest an async pipeline's consumer may spend on a
// batch of batchSize jobs: the model calls go out WorkersFreeConnections at a
// time, each job given PipelineAttempts attempts plus PipelineSlackMs.
func PipelineBatchMs(batchSize, modelTimeoutMs int) int {
	waves := (batchSize + WorkersFreeConnections - 1) / WorkersFreeConnections
	return waves * (PipelineAttempts*modelTimeoutMs + PipelineSlackMs)
}
