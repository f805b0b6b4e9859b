// Package contract holds the names the Go side and the Workers share: the
// Worker env's binding, secret and var names, the var defaults the Workers
// fall back to, the layout of the model-usage data point the Workers write
// to Analytics Engine, and the HTTP surface (job states, error codes, admin
// routes: http.go). Everything that names a binding or a var in Go (the
// templates through internal/render, the plan's checks, verify, the local
// runtime, cost analytics) uses these constants, and
// workers-src/src/contract.gen.ts is generated from them (`go generate
// ./internal/contract`; a golden test fails when it is stale).
//
// The binding kinds (the API's binding types) and the per-kind adapters live
// in internal/plan, which builds on this package.
package contract

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zerocost/zerocost/internal/stack"
)

//go:generate go run ./tsgen -out ../../workers-src/src/contract.gen.ts

// Resource bindings of the Worker env.
const (
	// Outputs is the product's R2 bucket (every pattern): the job records
	// (jobs/<id>.json) of event-agent and async-pipeline, with their results
	// and dead-letter records, and edge-cache's answers, which the Worker
	// also keeps in the Cache API of each location.
	Outputs = "OUTPUTS"
	// JobQueue is the queue producer (async-pipeline).
	JobQueue = "JOB_QUEUE"
	// RateLimiter is the ratelimit binding in front of every model call;
	// every pattern's Worker has it (there is no fallback).
	RateLimiter = "RATE_LIMITER"
	// DoorLimiter is the ratelimit binding at a public product's POST,
	// keyed by the caller (its client address): one caller's burst leaves
	// the others served. An async pipeline counts jobs (one limit() call per
	// job). A request passes one door: a keyed product's requests pass their
	// customer's tier door (DOOR_<TIER>) instead and never call this one.
	// Every product still binds it: the Worker's bindings are one set per
	// pattern (env.gen.ts), a ratelimit binding is no Cloudflare resource,
	// and an unused one costs nothing.
	DoorLimiter = "DOOR_LIMITER"
	// ModelUsage is the Analytics Engine dataset of model calls.
	ModelUsage = "MODEL_USAGE"
	// Spend is the stack's spend counter, a D1 database (one per stack).
	// Every product's Worker binds it when the stack has a budget (the
	// stack's zerocost:monthlyBudgetUsd or any product's
	// settings.monthlyBudgetUsd); without a budget it is absent. The Worker
	// creates its tables itself (CREATE TABLE IF NOT EXISTS).
	Spend = "SPEND"
	// Keys is the product's KV namespace of customer keys (access: keys,
	// the default): one record per key hash, k:<sha256 hex>. A public
	// product has none.
	Keys = "KEYS"
	// KeyFailures is the ratelimit binding, keyed by client address, that
	// counts failed key checks (access: keys), so that a flood of bad keys
	// cannot spend KV's daily reads.
	KeyFailures = "KEY_FAILURES"
	// DoorPrefix starts the name of each tier's door limit, a ratelimit
	// binding keyed by customer (access: keys): DOOR_<TIER>, the tier's name
	// in upper case. DoorStandard is the default tier's.
	DoorPrefix   = "DOOR_"
	DoorStandard = DoorPrefix + "STANDARD"
	// JobWorkflow is the event agent's Workflow (settings.runner: workflow,
	// the default): POST /jobs creates one instance per job, whose id is the
	// job id. Absent on the waitUntil runner.
	JobWorkflow = "JOB_WORKFLOW"
)

// JobWorkflowClass is the class the event agent's Worker exports for its
// Workflow (the Workflow's class_name).
const JobWorkflowClass = "JobWorkflow"

// Door is the ratelimit binding of a tier's door limit.
func Door(tier string) string { return DoorPrefix + strings.ToUpper(tier) }

// Secret bindings (secret_text): the plan names them, Pulumi sets their values.
const (
	// AnthropicAPIKey is required.
	AnthropicAPIKey = "ANTHROPIC_API_KEY"
	// AuthToken is optional: when set, the admin routes (/admin/...) need
	// it as a bearer token; without it they answer 403. Customers use keys
	// (the KEYS namespace), never this token.
	AuthToken = "AUTH_TOKEN"
	// BudgetAlertWebhook is optional: the URL the Worker POSTs a JSON alert
	// to when the month's spend crosses a threshold. Bound when the stack
	// sets the secret zerocost:budgetAlertWebhook or the product a
	// token-free settings.budgetAlertWebhook; never rendered.
	BudgetAlertWebhook = "BUDGET_ALERT_WEBHOOK"
)

// Plain-text vars (always strings; the Worker parses numbers).
const (
	VarProduct            = "PRODUCT"
	VarPattern            = "PATTERN"
	VarModel              = "MODEL"
	VarAnthropicBaseURL   = "ANTHROPIC_BASE_URL"
	VarSystemPrompt       = "SYSTEM_PROMPT"
	VarMaxInputChars      = "MAX_INPUT_CHARS"
	VarMaxOutputTokens    = "MAX_OUTPUT_TOKENS"
	VarModelTimeoutMs     = "MODEL_TIMEOUT_MS"
	VarRateLimitPerMinute = "RATE_LIMIT_PER_MINUTE"
	VarRetryDelaySeconds  = "RETRY_DELAY_SECONDS"
	VarDeadLetterQueue    = "DEAD_LETTER_QUEUE"
	VarCacheTTLSeconds    = "CACHE_TTL_SECONDS"
	// VarMaxRetries is the async pipeline consumer's max_retries: batch mode
	// retries a job's errored, expired or canceled batch request itself and
	// gives up after as many retries as the queue would.
	VarMaxRetries = "MAX_RETRIES"
	// VarModelMode is an async pipeline's settings.modelMode: "realtime"
	// (one Messages call per job) or "batch" (the Message Batches API, polled
	// on the Worker's cron trigger).
	VarModelMode = "MODEL_MODE"
	// VarMonthlyBudgetUSD is the product's monthly model budget in USD as
	// a decimal string ("12.5"), "" when the product has none.
	VarMonthlyBudgetUSD = "MONTHLY_BUDGET_USD"
	// VarStackBudgetUSD is the stack's monthly cap on the sum of every
	// product's model spend in USD, "" when none.
	VarStackBudgetUSD = "STACK_BUDGET_USD"
	// VarBudgetAlertThresholds are the percents of a budget whose crossing
	// sends one alert a month, comma-separated and ascending ("50,80,100").
	VarBudgetAlertThresholds = "BUDGET_ALERT_THRESHOLDS"
	// VarModelPrices is the product model's prices as JSON (ModelPrices),
	// from the same dated price file `zerocost cost` uses.
	VarModelPrices = "MODEL_PRICES"
	// VarAccess is the product's access: "keys" (every route but GET
	// /health needs a customer key) or "public". The Worker treats anything
	// but "public", missing included, as keys.
	VarAccess = "ACCESS"
	// VarRunner is an event agent's settings.runner: "workflow" (each job
	// a Workflow instance) or "waitUntil" (the job runs in the POST's
	// ctx.waitUntil, cut 30 s after the response).
	VarRunner = "RUNNER"
)

// ModelPrices is the JSON of the MODEL_PRICES var: the product model's
// prices in USD per million tokens, and the price file they come from.
type ModelPrices struct {
	Model string `json:"model"`
	// Prices names the price file (its name, e.g. "2026-11").
	Prices     string  `json:"prices"`
	Input      float64 `json:"input"`
	Output     float64 `json:"output"`
	CacheRead  float64 `json:"cache_read"`
	CacheWrite float64 `json:"cache_write"`
	// BatchDiscount is the fraction taken off every price in batch mode (0.5).
	BatchDiscount float64 `json:"batch_discount"`
}

// Binding is one resource binding of the Worker env and the patterns whose
// Worker has it.
type Binding struct {
	Name     string
	Patterns []string
}

// Bindings lists the resource bindings, in the order the templates declare
// them, kind by kind (r2, queues, ratelimits, analytics, d1, kv).
var Bindings = []Binding{
	{Outputs, stack.Patterns},
	{JobQueue, []string{stack.AsyncPipeline}},
	{RateLimiter, stack.Patterns},
	{DoorLimiter, stack.Patterns},
	{KeyFailures, stack.Patterns},
	{DoorStandard, stack.Patterns},
	{ModelUsage, stack.Patterns},
	{Spend, stack.Patterns},
	{Keys, stack.Patterns},
	{JobWorkflow, []string{stack.EventAgent}},
}

// Secrets lists the secret bindings; every pattern may have each.
var Secrets = []string{AnthropicAPIKey, AuthToken, BudgetAlertWebhook}

// Var is one plain-text var of the Worker env.
type Var struct {
	Name string
	// Patterns whose Worker has it.
	Patterns []string
	// Default is the Go default behind the var (an int or a string), which
	// lib/config.ts falls back to when the var is missing; nil when the
	// Worker has no default from Go.
	Default any
	// Setting is the product setting the var carries (its key under
	// settings, a row of stack.SettingsTable), "" for none: then Patterns
	// and Default are the setting's, and internal/render writes the var
	// with stack.Settings.VarText.
	Setting string
}

// settingVar is the var carrying a product setting, with the setting's
// patterns and default. It panics on a setting internal/stack lacks: the
// table is a constant of the program (TestVarsOfSettings).
func settingVar(name, setting string) Var {
	st, ok := stack.SettingNamed(setting)
	if !ok {
		panic(fmt.Sprintf("contract: var %s carries setting %q, which internal/stack does not have", name, setting))
	}
	return Var{Name: name, Patterns: st.Patterns, Default: st.VarDefault(), Setting: setting}
}

// Vars lists the vars in the order the templates write them.
var Vars = []Var{
	{Name: VarProduct, Patterns: stack.Patterns},
	{Name: VarPattern, Patterns: stack.Patterns},
	{Name: VarAccess, Patterns: stack.Patterns, Default: stack.DefaultAccess},
	{Name: VarModel, Patterns: stack.Patterns, Default: stack.DefaultModel},
	{Name: VarAnthropicBaseURL, Patterns: stack.Patterns, Default: stack.DefaultAnthropicBaseURL},
	{Name: VarSystemPrompt, Patterns: stack.Patterns},
	settingVar(VarMaxInputChars, "maxInputChars"),
	settingVar(VarMaxOutputTokens, "maxOutputTokens"),
	settingVar(VarModelTimeoutMs, "modelTimeoutMs"),
	settingVar(VarRateLimitPerMinute, "rateLimitPerMinute"),
	settingVar(VarRetryDelaySeconds, "retryDelaySeconds"),
	{Name: VarDeadLetterQueue, Patterns: []string{stack.AsyncPipeline}},
	settingVar(VarMaxRetries, "maxRetries"),
	settingVar(VarModelMode, "modelMode"),
	settingVar(VarRunner, "runner"),
	settingVar(VarCacheTTLSeconds, "cacheTtlSeconds"),
	settingVar(VarMonthlyBudgetUSD, "monthlyBudgetUsd"),
	{Name: VarStackBudgetUSD, Patterns: stack.Patterns},
	settingVar(VarBudgetAlertThresholds, "budgetAlertThresholds"),
	{Name: VarModelPrices, Patterns: stack.Patterns},
}

// VarsOf lists the names of a pattern's vars, in template order.
func VarsOf(pattern string) []string {
	return namesOf(Vars, pattern, func(v Var) (string, []string) { return v.Name, v.Patterns })
}

// BindingsOf lists the names of a pattern's resource bindings, in template order.
func BindingsOf(pattern string) []string {
	return namesOf(Bindings, pattern, func(b Binding) (string, []string) { return b.Name, b.Patterns })
}

// namesOf lists the names of the entries the pattern has.
func namesOf[T any](entries []T, pattern string, get func(T) (name string, patterns []string)) []string {
	var out []string
	for _, e := range entries {
		if name, patterns := get(e); slices.Contains(patterns, pattern) {
			out = append(out, name)
		}
	}
	return out
}

// ModelUsageDataset is the Analytics Engine dataset the templates bind as
// MODEL_USAGE.
const ModelUsageDataset = "zerocost_model_usage"

// Fields of the model-usage data point. The doubles are named as the
// Messages API names its usage counts, so the Worker reads them by name.
const (
	FieldProduct = "product"
	FieldModel   = "model"
	FieldPattern = "pattern"
	// FieldMode is how the point's request was answered: UsageModes.
	FieldMode = "mode"
	// FieldCustomer is the customer whose key made the call (a product with
	// keys; "" for a public product and for batch-mode results).
	FieldCustomer          = "customer"
	FieldInputTokens       = "input_tokens"
	FieldOutputTokens      = "output_tokens"
	FieldCacheReadTokens   = "cache_read_input_tokens"
	FieldCacheCreateTokens = "cache_creation_input_tokens"
)

// The values of the model-usage point's mode (FieldMode). A point written
// before the field existed has "": a realtime call.
const (
	// ModeRealtime is a call of the Messages API.
	ModeRealtime = "realtime"
	// ModeBatch is a result of the Message Batches API (billed at its batch
	// discount).
	ModeBatch = "batch"
	// ModeCacheHit is a request served without a model call of its own: an
	// edge-cache hit (Cache API or R2), or a miss that shared another
	// request's call in its isolate (x-cache-shared). Its tokens are 0; it
	// counts the request for its customer (cost report --by customer) and
	// is no model call (the token queries leave it out).
	ModeCacheHit = "cache_hit"
)

// UsageModes are the values of FieldMode, ModelMode's first.
var UsageModes = []string{ModeRealtime, ModeBatch, ModeCacheHit}

// DataPoint is the layout of an Analytics Engine data point: the meaning of
// each position of its blobs, doubles and indexes. Analytics Engine stores
// blobs[i] as column blob<i+1>, doubles[i] as double<i+1> and indexes[0] as
// index1.
type DataPoint struct {
	Blobs   []string
	Doubles []string
	Indexes []string
}

// ModelUsagePoint is the data point lib/model.ts writes to MODEL_USAGE once
// per successful model call, and once per edge-cache request served without
// one (mode ModeCacheHit, no tokens); internal/cost/analytics reads it back.
var ModelUsagePoint = DataPoint{
	Blobs:   []string{FieldProduct, FieldModel, FieldPattern, FieldMode, FieldCustomer},
	Doubles: []string{FieldInputTokens, FieldOutputTokens, FieldCacheReadTokens, FieldCacheCreateTokens},
	Indexes: []string{FieldProduct},
}

// Column is the Analytics Engine column holding a field: blob<n>, double<n>
// or index<n> (a field both a blob and an index is its blob). It panics on a
// field the layout lacks: the layout is a constant of the program.
func (d DataPoint) Column(field string) string {
	for _, l := range []struct {
		prefix string
		fields []string
	}{{"blob", d.Blobs}, {"double", d.Doubles}, {"index", d.Indexes}} {
		for i, f := range l.fields {
			if f == field {
				return fmt.Sprintf("%s%d", l.prefix, i+1)
			}
		}
	}
	panic(fmt.Sprintf("contract: the data point has no field %q", field))
}

// IndexColumn is the column of an index field (index<n>).
func (d DataPoint) IndexColumn(field string) string {
	for i, f := range d.Indexes {
		if f == field {
			return fmt.Sprintf("index%d", i+1)
		}
	}
	panic(fmt.Sprintf("contract: the data point has no index %q", field))
}
