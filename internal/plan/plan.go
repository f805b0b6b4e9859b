// Package plan is zerocost's one model of what a stack deploys. It is built by
// rendering each product's wrangler config and parsing it back, so that the Pulumi
// program, the local runtime, verify and cost read exactly what the rendered
// configs say.
package plan

import (
	"fmt"
	"strings"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/contract/invocation"
	"github.com/zerocost/zerocost/internal/stack"
	"github.com/zerocost/zerocost/prices"
)

// Plan is everything a stack deploys.
type Plan struct {
	Stack               string `json:"stack"`
	AccountID           string `json:"account_id"`
	WorkersDevSubdomain string `json:"workers_dev_subdomain,omitempty"`
	RetainData          bool   `json:"retain_data"`
	// MonthlyBudgetUSD is the stack's cap on the month's model spend of all
	// products together (zerocost:monthlyBudgetUsd); 0: none.
	MonthlyBudgetUSD float64 `json:"monthly_budget_usd,omitempty"`
	// SpendDatabase is the stack's spend counter, present when the stack
	// has a budget (its own or a product's) or a product with customer keys
	// (whose customers' budgets and spend it keeps). The stack owns it, not a
	// product: every product's Worker binds it as SPEND.
	SpendDatabase *Database `json:"spend_database,omitempty"`
	Products      []Product `json:"products"`
}

// Database is a D1 database.
type Database struct {
	Binding string `json:"binding"`
	Name    string `json:"name"`
}

// Product is one product's Worker and the resources it binds.
type Product struct {
	Name              string         `json:"name"`
	Pattern           string         `json:"pattern"`
	Model             string         `json:"model"`
	Script            string         `json:"script"`
	MainModule        string         `json:"main_module"`
	CompatibilityDate string         `json:"compatibility_date"`
	Hooks             string         `json:"hooks,omitempty"`
	Settings          stack.Settings `json:"settings"`
	URL               string         `json:"url,omitempty"`
	WorkersDev        bool           `json:"workers_dev"`
	Routes            []Route        `json:"routes,omitempty"`
	Crons             []string       `json:"crons,omitempty"`
	R2Buckets         []R2Bucket     `json:"r2_buckets"`
	// Access is the product's access: stack.AccessKeys or AccessPublic.
	Access string `json:"access"`
	// KVNamespaces are the KV namespaces the product owns: with access
	// keys, its namespace of customer keys (bound as KEYS).
	KVNamespaces []KVNamespace `json:"kv_namespaces,omitempty"`
	Queues       []QueueInfo   `json:"queues,omitempty"`
	Consumers    []Consumer    `json:"consumers,omitempty"`
	Bindings     []Binding     `json:"bindings"`
	// Lifecycle is the product's bucket's object lifecycle rules.
	Lifecycle []LifecycleRule `json:"lifecycle,omitempty"`
	// WranglerTOML is the rendered config the product was parsed from.
	WranglerTOML []byte `json:"-"`
}

// Route is a zone route or a custom domain.
type Route struct {
	Pattern      string `json:"pattern"`
	ZoneID       string `json:"zone_id"`
	CustomDomain bool   `json:"custom_domain,omitempty"`
}

// R2Bucket is a bucket the product owns.
type R2Bucket struct {
	Binding string `json:"binding"`
	Name    string `json:"name"`
}

// KVNamespace is a KV namespace the product owns, by title.
type KVNamespace struct {
	Binding string `json:"binding"`
	Title   string `json:"title"`
}

// QueueInfo is a queue the product owns.
type QueueInfo struct {
	Name       string `json:"name"`
	DeadLetter bool   `json:"dead_letter"`
}

// Consumer is a queue consumer; times are seconds, as in wrangler.
type Consumer struct {
	Queue               string `json:"queue"`
	BatchSize           int    `json:"batch_size"`
	BatchTimeoutSeconds int    `json:"batch_timeout_seconds"`
	MaxRetries          int    `json:"max_retries"`
	RetryDelaySeconds   int    `json:"retry_delay_seconds,omitempty"`
	DeadLetterQueue     string `json:"dead_letter_queue,omitempty"`
	MaxConcurrency      int    `json:"max_concurrency,omitempty"`
}

// Binding is one entry of the Worker's env. Target is what it points at: the
// bucket or queue name, the var's value, the config key of a secret (never
// its value), the rate limiter's namespace id or the dataset.
type Binding struct {
	Type   Kind   `json:"type"`
	Name   string `json:"name"`
	Target string `json:"target"`
	// Rate limiters only.
	Limit  int `json:"limit,omitempty"`
	Period int `json:"period,omitempty"`
	// Secrets only: whether the stack has the secret set.
	Configured bool `json:"configured,omitempty"`
	// Workflows only: the class of this Worker the Workflow runs.
	Class string `json:"class_name,omitempty"`
}

// Product returns the named product, or nil.
func (p *Plan) Product(name string) *Product {
	for i := range p.Products {
		if p.Products[i].Name == name {
			return &p.Products[i]
		}
	}
	return nil
}

// Binding returns the product's binding of that name, or nil.
func (pr *Product) Binding(name string) *Binding {
	for i := range pr.Bindings {
		if pr.Bindings[i].Name == name {
			return &pr.Bindings[i]
		}
	}
	return nil
}

// Var returns a plain-text var's value (its name from internal/contract).
func (pr *Product) Var(name string) string {
	if b := pr.Binding(name); b != nil && b.Type == PlainText {
		return b.Target
	}
	return ""
}

// MissingSecrets lists the required secrets that the stack has not set, as
// config keys.
func (p *Plan) MissingSecrets() []string {
	seen := map[string]bool{}
	var out []string
	for _, pr := range p.Products {
		for _, b := range pr.Bindings {
			if b.Type == Secret && b.Name == contract.AnthropicAPIKey && !b.Configured && !seen[b.Target] {
				seen[b.Target] = true
				out = append(out, b.Target)
			}
		}
	}
	return out
}

// WorkersFreeCronTriggers is how many cron triggers Workers Free allows in
// an account, all its Workers together (Workers Paid: 250).
const WorkersFreeCronTriggers = 5

// CronTriggers counts the stack's cron triggers, every product's.
func (p *Plan) CronTriggers() int {
	n := 0
	for _, pr := range p.Products {
		n += len(pr.Crons)
	}
	return n
}

// Warnings are what the plan may run into without being wrong: a public
// product without a budget, what zerocost:authToken guards now (a stack that
// sets it), waitUntil jobs whose longest answer cannot be written inside the
// 30 s cap, more cron triggers than Workers Free allows. A warning, not an
// error: zerocost cannot see the account's plan (Workers Paid allows 250 crons)
// nor the crons of its other Workers, so Cloudflare's API is the judge when
// `pulumi up` adds them.
func (p *Plan) Warnings() []string {
	auth := false
	for _, pr := range p.Products {
		if b := pr.Binding(contract.AuthToken); b != nil && b.Type == Secret {
			auth = true
		}
	}
	out := append(p.accessWarnings(auth), p.waitUntilWarnings()...)
	out = append(out, p.batchSizeWarnings()...)
	if n := p.CronTriggers(); n > WorkersFreeCronTriggers {
		var per []string
		for _, pr := range p.Products {
			if len(pr.Crons) > 0 {
				per = append(per, fmt.Sprintf("%s %d", pr.Name, len(pr.Crons)))
			}
		}
		out = append(out, fmt.Sprintf("the stack has %d cron triggers (%s); Workers Free allows %d per account, all its Workers together (Workers Paid: 250), so on Free `pulumi up` fails past the %dth: use fewer crons, or give a batch-mode product a batchPollCron equal to one of its own crons (they share one trigger)",
			n, strings.Join(per, ", "), WorkersFreeCronTriggers, WorkersFreeCronTriggers))
	}
	return out
}

// batchSizeWarnings: a realtime async pipeline whose batchSize is above the
// full packs one delivery runs (invocation.DeliveryPacks) sends the packs
// past them on again, a queue write, read and delete each, delivery after
// delivery while a backlog lasts (the reliability suite's batchSize 100 took
// 5 m 45 s for 2,000 jobs against 33.5 s before deliveries were bounded).
func (p *Plan) batchSizeWarnings() []string {
	var out []string
	for _, pr := range p.Products {
		if pr.Pattern != stack.AsyncPipeline || pr.Settings.ModelMode == stack.ModelModeBatch {
			continue
		}
		spend := pr.Binding(contract.Spend) != nil
		if packs := invocation.DeliveryPacks(spend); pr.Settings.BatchSize > packs {
			out = append(out, fmt.Sprintf("%s: batchSize %d, but one queue delivery runs at most %d jobs (%d full pack(s) of %d: Workers Free allows 50 fetches and 50 D1 queries an invocation): jobs posted together travel packed, and a delivery sends the packs past its first %d on again, a queue write, read and delete each, delivery after delivery while a backlog lasts; leave batchSize unset (%d) unless the product's jobs arrive one per POST",
				pr.Name, pr.Settings.BatchSize, invocation.DeliveryMaxJobs(spend), packs, contract.PackMaxJobs, packs, packs))
		}
	}
	return out
}

// waitUntilWarnings: an event agent on runner: waitUntil gives the model 25 s
// (inside the 30 s waitUntil cap, workers-src/src/patterns/event-agent.ts);
// an answer of maxOutputTokens at the model's speed (prices.Speeds) that
// takes longer would fail every time.
func (p *Plan) waitUntilWarnings() []string {
	var out []string
	for _, pr := range p.Products {
		if pr.Pattern != stack.EventAgent || pr.Settings.Runner != stack.RunnerWaitUntil {
			continue
		}
		secs, known := prices.AnswerSeconds(pr.Model, pr.Settings.MaxOutputTokens)
		if known && secs*1000 > float64(stack.MaxWaitUntilModelTimeoutMs) {
			out = append(out, fmt.Sprintf("%s: runner: waitUntil, but %d output tokens of %s take about %.0f s at %.0f tokens a second (%s), past the 25 s the model gets inside the 30 s waitUntil cap: a long answer fails; use runner: workflow (the default) or a lower maxOutputTokens",
				pr.Name, pr.Settings.MaxOutputTokens, pr.Model, secs, prices.Speeds[pr.Model].TokensPerSecond, prices.Speeds[pr.Model].Source))
		}
	}
	return out
}
