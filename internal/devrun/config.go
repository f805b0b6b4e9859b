package devrun

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/render"
)

// runnerConfig is what workers-src/dev/run.mjs reads. Each worker's Options
// are Miniflare's (v4-style) worker options, built here from the plan and
// nothing else; secrets are named by the environment variable that carries
// their value, so they never reach the disk.
type runnerConfig struct {
	Host      string         `json:"host"`
	EntryPort int            `json:"entryPort"`
	Persist   string         `json:"persist"`
	LogLevel  string         `json:"logLevel"`
	Workers   []runnerWorker `json:"workers"`
	// Keys are the key records to write before reporting ready.
	Keys []runnerKey `json:"keys,omitempty"`
	// KVAPI asks the runner to serve the local Cloudflare API: the KV
	// values endpoints (any product has keys) and D1's query endpoint (the
	// stack has a spend store).
	KVAPI bool `json:"kvApi,omitempty"`
}

type runnerWorker struct {
	// Name is the Worker script's name (as deployed), which Miniflare keys on.
	Name    string `json:"name"`
	Product string `json:"product"`
	Script  string `json:"script"`
	Port    int    `json:"port"`
	// Secrets maps a binding to the environment variable holding its value.
	Secrets map[string]string `json:"secrets"`
	Options workerOptions     `json:"options"`
}

// workerOptions are the Miniflare worker options zerocost sets.
type workerOptions struct {
	CompatibilityDate       string                   `json:"compatibilityDate"`
	Bindings                map[string]string        `json:"bindings"`
	R2Buckets               map[string]string        `json:"r2Buckets,omitempty"`
	QueueProducers          map[string]queueProducer `json:"queueProducers,omitempty"`
	QueueConsumers          map[string]queueConsumer `json:"queueConsumers,omitempty"`
	RateLimits              map[string]rateLimit     `json:"ratelimits,omitempty"`
	AnalyticsEngineDatasets map[string]dataset       `json:"analyticsEngineDatasets,omitempty"`
	// D1Databases maps a binding to its database id; Miniflare keeps one
	// database per id, shared by the Workers that bind it, under Persist.
	D1Databases map[string]string `json:"d1Databases,omitempty"`
	// KVNamespaces maps a binding to its namespace id (Miniflare keeps one
	// namespace per id under Persist).
	KVNamespaces map[string]string `json:"kvNamespaces,omitempty"`
	CronTriggers []string          `json:"cronTriggers,omitempty"`
	// Workflows maps a binding to the Workflow Miniflare runs from this
	// Worker's class; its instances persist under Persist.
	Workflows map[string]workflow `json:"workflows,omitempty"`
}

type workflow struct {
	Name      string `json:"name"`
	ClassName string `json:"className"`
}

type queueProducer struct {
	QueueName string `json:"queueName"`
}

// queueConsumer: times in seconds, as in wrangler and the plan.
type queueConsumer struct {
	MaxBatchSize    int    `json:"maxBatchSize"`
	MaxBatchTimeout int    `json:"maxBatchTimeout"`
	MaxRetries      int    `json:"maxRetries"`
	RetryDelay      int    `json:"retryDelay,omitempty"`
	DeadLetterQueue string `json:"deadLetterQueue,omitempty"`
}

type rateLimit struct {
	NamespaceID string `json:"namespace_id"`
	Simple      struct {
		Limit  int `json:"limit"`
		Period int `json:"period"`
	} `json:"simple"`
}

type dataset struct {
	Dataset string `json:"dataset"`
}

// secretEnv is the environment variable that carries a secret to the runner.
func secretEnv(binding string) string { return "ZEROCOST_DEV_SECRET_" + binding }

// devSecrets are the values the runtime gives the plan's secrets.
type devSecrets struct {
	// APIKey is ANTHROPIC_API_KEY's value (the real key, or a placeholder for the stand-in).
	APIKey string
	// AuthToken is AUTH_TOKEN's value; "" leaves the binding unset (no auth).
	AuthToken string
	// BudgetAlertWebhook is the stack's BUDGET_ALERT_WEBHOOK
	// (ZEROCOST_BUDGET_ALERT_WEBHOOK); "" leaves it unset where the
	// product has no token-free URL of its own.
	BudgetAlertWebhook string
}

// workerBuild is one product's worker config being built from its plan.
type workerBuild struct {
	pr      *plan.Product
	w       *runnerWorker
	baseURL string
	sec     devSecrets
	notes   []string
	hasAuth bool
	hasHook bool
}

// miniflareBindings maps each binding kind (plan.Kinds) to Miniflare's worker
// options; TestEveryKindRunsInDev fails while a kind has no entry.
var miniflareBindings = map[plan.Kind]func(wb *workerBuild, b plan.Binding) error{
	plan.PlainText: func(wb *workerBuild, b plan.Binding) error {
		v := b.Target
		if b.Name == contract.VarAnthropicBaseURL && wb.baseURL != "" {
			v = wb.baseURL
		}
		wb.w.Options.Bindings[b.Name] = v
		return nil
	},
	plan.Secret: func(wb *workerBuild, b plan.Binding) error {
		switch b.Name {
		case contract.AnthropicAPIKey:
			wb.w.Secrets[b.Name] = secretEnv(b.Name)
		case contract.AuthToken:
			wb.hasAuth = true
			if wb.sec.AuthToken != "" {
				wb.w.Secrets[b.Name] = secretEnv(b.Name)
			} else {
				wb.notes = append(wb.notes, fmt.Sprintf("%s: the stack sets %s but ZEROCOST_AUTH_TOKEN is not set: its routes are open in dev", wb.pr.Name, b.Name))
			}
		case contract.BudgetAlertWebhook:
			wb.hasHook = true
			switch {
			case wb.pr.Settings.BudgetAlertWebhook != "":
				// The product's own URL, token-free (the stack checked it):
				// a plain binding in dev, where the config file is local.
				wb.w.Options.Bindings[b.Name] = wb.pr.Settings.BudgetAlertWebhook
			case wb.sec.BudgetAlertWebhook != "":
				wb.w.Secrets[b.Name] = secretEnv(b.Name)
			default:
				wb.notes = append(wb.notes, fmt.Sprintf("%s: the stack sets %s but ZEROCOST_BUDGET_ALERT_WEBHOOK is not set: budget alerts are not sent in dev", wb.pr.Name, b.Name))
			}
		default:
			return fmt.Errorf("%s: secret %s has no value in dev", wb.pr.Name, b.Name)
		}
		return nil
	},
	plan.R2: func(wb *workerBuild, b plan.Binding) error {
		put(&wb.w.Options.R2Buckets, b.Name, b.Target)
		return nil
	},
	plan.Queue: func(wb *workerBuild, b plan.Binding) error {
		put(&wb.w.Options.QueueProducers, b.Name, queueProducer{QueueName: b.Target})
		return nil
	},
	plan.RateLimit: func(wb *workerBuild, b plan.Binding) error {
		var rl rateLimit
		rl.NamespaceID = b.Target
		rl.Simple.Limit = b.Limit
		rl.Simple.Period = b.Period
		put(&wb.w.Options.RateLimits, b.Name, rl)
		return nil
	},
	plan.Analytics: func(wb *workerBuild, b plan.Binding) error {
		// Miniflare binds Analytics Engine datasets locally and discards the points.
		put(&wb.w.Options.AnalyticsEngineDatasets, b.Name, dataset{Dataset: b.Target})
		return nil
	},
	plan.D1: func(wb *workerBuild, b plan.Binding) error {
		// The rendered config's stand-in id, derived from the database's
		// name: every product binds the same local database, kept under
		// state/<stack>/ until --reset (the month's spend survives a restart).
		put(&wb.w.Options.D1Databases, b.Name, render.LocalDatabaseID(b.Target))
		return nil
	},
	plan.KV: func(wb *workerBuild, b plan.Binding) error {
		// The rendered config's stand-in id, derived from the title: the
		// keys survive a restart, under state/<stack>/ until --reset.
		put(&wb.w.Options.KVNamespaces, b.Name, render.LocalNamespaceID(b.Target))
		return nil
	},
	plan.Workflow: func(wb *workerBuild, b plan.Binding) error {
		// Miniflare's Workflows plugin runs the class of this Worker; it
		// has no account-wide concurrency limit (Cloudflare queues
		// instances past it, docs/design.md).
		put(&wb.w.Options.Workflows, b.Name, workflow{Name: b.Target, ClassName: b.Class})
		return nil
	},
}

// put sets (*m)[k] = v, making the map first.
func put[V any](m *map[string]V, k string, v V) {
	if *m == nil {
		*m = map[string]V{}
	}
	(*m)[k] = v
}

// buildWorker translates one product of the plan into the runner's worker
// config. baseURL, when set, replaces the ANTHROPIC_BASE_URL var (the stand-in).
// Every binding of the plan is mapped, or an error says which one cannot be.
func buildWorker(pr *plan.Product, script string, port int, baseURL string, sec devSecrets) (runnerWorker, []string, error) {
	w := runnerWorker{
		Name:    pr.Script,
		Product: pr.Name,
		Script:  script,
		Port:    port,
		Secrets: map[string]string{},
		Options: workerOptions{
			CompatibilityDate: pr.CompatibilityDate,
			Bindings:          map[string]string{},
			CronTriggers:      pr.Crons,
		},
	}
	wb := &workerBuild{pr: pr, w: &w, baseURL: baseURL, sec: sec}
	for _, b := range pr.Bindings {
		add, ok := miniflareBindings[b.Type]
		if !ok {
			return w, nil, fmt.Errorf("%s: binding %s has type %q, which zerocost dev cannot run", pr.Name, b.Name, b.Type)
		}
		if err := add(wb, b); err != nil {
			return w, nil, err
		}
	}
	// The optional bearer token: ZEROCOST_AUTH_TOKEN turns it on in dev even
	// when the stack does not set one.
	if !wb.hasAuth && sec.AuthToken != "" {
		w.Secrets[contract.AuthToken] = secretEnv(contract.AuthToken)
	}
	// ZEROCOST_BUDGET_ALERT_WEBHOOK gives every Worker with a spend guard a
	// webhook in dev even when the stack sets none.
	if !wb.hasHook && sec.BudgetAlertWebhook != "" && pr.Binding(contract.Spend) != nil {
		w.Secrets[contract.BudgetAlertWebhook] = secretEnv(contract.BudgetAlertWebhook)
	}
	for _, c := range pr.Consumers {
		put(&w.Options.QueueConsumers, c.Queue, queueConsumer{
			MaxBatchSize:    c.BatchSize,
			MaxBatchTimeout: c.BatchTimeoutSeconds,
			MaxRetries:      c.MaxRetries,
			RetryDelay:      c.RetryDelaySeconds,
			DeadLetterQueue: c.DeadLetterQueue,
		})
		if c.MaxConcurrency > 0 {
			wb.notes = append(wb.notes, fmt.Sprintf("%s: Miniflare has no max_concurrency for the consumer of %s; it runs one batch at a time", pr.Name, c.Queue))
		}
	}
	return w, wb.notes, nil
}

// secretValues are the environment entries carrying the secrets' values.
func secretValues(workers []runnerWorker, sec devSecrets) []string {
	vals := map[string]string{
		secretEnv(contract.AnthropicAPIKey):    sec.APIKey,
		secretEnv(contract.AuthToken):          sec.AuthToken,
		secretEnv(contract.BudgetAlertWebhook): sec.BudgetAlertWebhook,
	}
	seen := map[string]bool{}
	var env []string
	for _, w := range workers {
		for _, name := range w.Secrets {
			if !seen[name] {
				seen[name] = true
				env = append(env, name+"="+vals[name])
			}
		}
	}
	sort.Strings(env)
	return env
}

// baseURLOf is the ANTHROPIC_BASE_URL var the plan gives the products.
func baseURLOf(p *plan.Plan) string {
	for i := range p.Products {
		if v := p.Products[i].Var(contract.VarAnthropicBaseURL); v != "" {
			return strings.TrimRight(v, "/")
		}
	}
	return ""
}

// extraWorkers translates Options.ExtraWorkers into runner workers, on free
// ports, with the products' compatibility date.
func extraWorkers(extras []ExtraWorker, products []runnerWorker) ([]runnerWorker, error) {
	if len(extras) == 0 {
		return nil, nil
	}
	taken := map[string]bool{}
	for _, w := range products {
		taken[w.Name] = true
	}
	var out []runnerWorker
	for _, e := range extras {
		if e.Name == "" || e.Script == "" {
			return nil, fmt.Errorf("extra Worker %q: a name and a script are required", e.Name)
		}
		if taken[e.Name] {
			return nil, fmt.Errorf("extra Worker %q: the name is taken", e.Name)
		}
		taken[e.Name] = true
		script, err := filepath.Abs(e.Script)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(script); err != nil {
			return nil, fmt.Errorf("extra Worker %q: %w", e.Name, err)
		}
		w := runnerWorker{
			Name:    e.Name,
			Product: e.Name,
			Script:  script,
			Secrets: map[string]string{},
			Options: workerOptions{
				CompatibilityDate: products[0].Options.CompatibilityDate,
				Bindings:          map[string]string{},
			},
		}
		for k, v := range e.Vars {
			w.Options.Bindings[k] = v
		}
		if len(e.R2Buckets) > 0 {
			w.Options.R2Buckets = maps.Clone(e.R2Buckets)
		}
		for binding, name := range e.D1Databases {
			put(&w.Options.D1Databases, binding, render.LocalDatabaseID(name))
		}
		for binding, queue := range e.QueueProducers {
			if w.Options.QueueProducers == nil {
				w.Options.QueueProducers = map[string]queueProducer{}
			}
			w.Options.QueueProducers[binding] = queueProducer{QueueName: queue}
		}
		out = append(out, w)
	}
	return out, nil
}
