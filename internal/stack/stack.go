// Package stack holds a zerocost stack's configuration: the products listed under
// the `zerocost:` namespace of Pulumi.<stack>.yaml, their defaults and validation.
//
// The same code reads the configuration for the CLI (straight from the YAML file,
// see LoadFile) and for the Pulumi program (from Pulumi's config, see FromValues),
// so both see the same products with the same defaults and the same errors.
package stack

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

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

// Defaults, from the seed article where it gives a value. A setting's
// default is its row's in SettingsTable; these constants name them for the
// code that needs one elsewhere.
const (
	DefaultModel             = "claude-haiku-4-5"
	DefaultCompatibilityDate = "2026-06-01"
	// DefaultBatchModeBatchSize is an async pipeline's batchSize in batch
	// mode when unset; in realtime mode DefaultBatchSize derives it.
	DefaultBatchModeBatchSize  = 5
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

// MaxPlainTextVarBytes is the most a Worker's plain-text variable holds:
// 5 KB (https://developers.cloudflare.com/workers/platform/limits/,
// "Environment variable size"). The settings' bounds are in SettingsTable.
const MaxPlainTextVarBytes = 5 * 1024

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

// PlaceholderAccountID is the account id `zerocost init` writes without
// --account: a well-formed id, so that render, plan and dev (which never
// call Cloudflare) take the stack, and one deploy's preflight refuses.
const PlaceholderAccountID = "00000000000000000000000000000000"

// PlaceholderAccountError is deploy's refusal of PlaceholderAccountID in the
// stack file named file.
func PlaceholderAccountError(file string) error {
	return fmt.Errorf("%s:%s is the placeholder `zerocost init` wrote: set your Cloudflare account id with `pulumi config set %[1]s:%[2]s <32-hex account id>` (or edit %s)", Namespace, KeyAccountID, file)
}

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

// HasSpendStore says whether the stack has its spend database (D1, bound as
// SPEND by every product): it has a budget (HasBudget), or a product has
// customer keys. A keyed product always has the store, so that a customer's
// monthly budget, set at runtime by `zerocost keys create
// --monthly-budget-usd`, is enforced, and each customer's spend is counted
// exactly (the customer_spend table, workers-src/src/lib/spend/store.ts).
func (c *Config) HasSpendStore() bool {
	if c.HasBudget() {
		return true
	}
	for i := range c.Products {
		if c.Products[i].HasKeys() {
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
	// Access is who may call the product: AccessKeys (the default: every
	// request but GET /health needs a customer key) or AccessPublic.
	Access string `json:"access,omitempty"`
	// Tiers are the door limits a customer key may carry (its tier), in
	// requests (an async pipeline: jobs) per minute per customer, the one
	// door a keyed request passes; a product with keys has at least
	// DefaultTier. A public product has none.
	Tiers    map[string]int `json:"tiers,omitempty"`
	Settings Settings       `json:"settings"`
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

// Settings are a pattern's knobs, one field per row of SettingsTable (its
// patterns, default and range). Zero means "use the default"; settings a
// pattern does not use are left at zero after defaults are applied.
type Settings struct {
	BatchSize           int `json:"batchSize,omitempty"`
	BatchTimeoutSeconds int `json:"batchTimeoutSeconds,omitempty"`
	MaxRetries          int `json:"maxRetries,omitempty"`
	RetryDelaySeconds   int `json:"retryDelaySeconds,omitempty"`
	CacheTTLSeconds     int `json:"cacheTtlSeconds,omitempty"`
	// RetentionDays is how long the product's bucket keeps job records (an
	// R2 lifecycle rule on jobs/).
	RetentionDays      int `json:"retentionDays,omitempty"`
	RateLimitPerMinute int `json:"rateLimitPerMinute,omitempty"`
	// DoorLimitPerMinute is what one caller (its client address) of a
	// public product may send through the product's POST in a minute:
	// requests, or jobs for an async pipeline. A keyed product's customers
	// pass their tier's door instead (Product.Tiers). Unset:
	// Settings.DoorLimit derives it.
	DoorLimitPerMinute   int `json:"doorLimitPerMinute,omitempty"`
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
	keys := slices.Sorted(maps.Keys(values))
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

	errs = append(errs, cfg.readSecrets(values)...)
	errs = append(errs, cfg.readStackKeys(values)...)
	prods, perrs := parseProducts(values[KeyProducts])
	errs = append(errs, perrs...)
	cfg.Products = prods
	cfg.defaultBatchSizes()
	errs = append(errs, cfg.checkBudgets()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// readSecrets reads the account id and which secrets are set (never their
// values): a secret set in plain text is an error.
func (cfg *Config) readSecrets(values map[string]Value) []error {
	var errs []error
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
	if v, ok := values[KeyBudgetAlertWebhook]; ok {
		field := Namespace + ":" + KeyBudgetAlertWebhook
		if !v.Secret {
			errs = append(errs, errf(field, "must be a secret (a webhook URL carries a token): set it with `pulumi config set --secret %s <url>`, or give a token-free URL in a product's settings.budgetAlertWebhook", field))
		}
		cfg.HasBudgetAlertWebhook = v.Text != "" || v.Secret
	}
	return errs
}

// readStackKeys reads the stack's plain settings over their defaults.
func (cfg *Config) readStackKeys(values map[string]Value) []error {
	var errs []error
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
	return errs
}

// KnownKeys lists the config keys zerocost reads, without the namespace.
func KnownKeys() []string { return sortedKnownKeys() }

func sortedKnownKeys() []string {
	out := slices.Sorted(maps.Keys(knownKeys))
	return out
}
