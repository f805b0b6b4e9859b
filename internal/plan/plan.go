// Package plan is zerocost's one model of what a stack deploys. It is built by
// rendering each product's wrangler config and parsing it back, so that the Pulumi
// program, the local runtime, verify and cost read exactly what the rendered
// configs say.
package plan

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/names"
	"github.com/zerocost/zerocost/internal/render"
	"github.com/zerocost/zerocost/internal/stack"
	"github.com/zerocost/zerocost/internal/wrangler"
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

// Build renders every product of the stack, parses the configs back and checks
// them into one Plan. projectDir resolves prompt files and hooks modules.
func Build(cfg *stack.Config, projectDir string) (*Plan, error) {
	tmpls, err := render.Templates()
	if err != nil {
		return nil, err
	}
	p := &Plan{
		Stack:               cfg.Stack,
		AccountID:           cfg.AccountID,
		WorkersDevSubdomain: cfg.WorkersDevSubdomain,
		RetainData:          cfg.RetainData,
		MonthlyBudgetUSD:    cfg.MonthlyBudgetUSD,
	}
	if cfg.HasSpendStore() {
		p.SpendDatabase = &Database{Binding: contract.Spend, Name: names.SpendDatabase(cfg.Stack)}
	}
	var errs []error
	for _, sp := range cfg.Products {
		d, err := render.NewData(cfg, sp, projectDir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		toml, err := render.Product(tmpls, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		wc, err := wrangler.Decode(sp.Name+"/wrangler.toml", toml)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		prod, err := FromWrangler(cfg, sp, wc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		prod.WranglerTOML = toml
		if sp.Hooks != "" {
			path, err := stack.ResolvePath(projectDir, sp.Hooks)
			if err == nil {
				_, err = os.Stat(path)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("zerocost:products[%s].hooks: %w", sp.Name, err))
			}
			prod.Hooks = sp.Hooks
		}
		p.Products = append(p.Products, *prod)
	}
	if len(errs) == 0 {
		errs = append(errs, p.Check()...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// FromWrangler turns one parsed wrangler config into a plan product.
func FromWrangler(cfg *stack.Config, sp stack.Product, wc *wrangler.Config) (*Product, error) {
	pr := &Product{
		Name:              sp.Name,
		Pattern:           sp.Pattern,
		Model:             sp.Model,
		Script:            wc.Name,
		MainModule:        wc.Main,
		CompatibilityDate: wc.CompatibilityDate,
		Settings:          sp.Settings,
		Access:            sp.Access,
		WorkersDev:        wc.WorkersDev != nil && *wc.WorkersDev,
		R2Buckets:         []R2Bucket{},
		Bindings:          []Binding{},
		Lifecycle:         Lifecycle(sp.Pattern, sp.Settings),
	}
	for _, r := range wc.Routes {
		pr.Routes = append(pr.Routes, Route{Pattern: r.Pattern, ZoneID: r.ZoneID, CustomDomain: r.CustomDomain})
	}
	if sp.CustomDomain != nil && len(pr.Routes) == 1 {
		pr.Routes[0].ZoneID = sp.CustomDomain.ZoneID // wrangler infers the zone; the API needs it
	}
	if wc.Triggers != nil {
		pr.Crons = wc.Triggers.Crons
	}
	pr.URL = productURL(cfg, pr)

	varNames := make([]string, 0, len(wc.Vars))
	for k := range wc.Vars {
		varNames = append(varNames, k)
	}
	sort.Strings(varNames)
	for _, k := range varNames {
		pr.Bindings = append(pr.Bindings, Binding{Type: PlainText, Name: k, Target: wc.Vars[k]})
	}
	pr.Bindings = append(pr.Bindings, Binding{
		Type: Secret, Name: contract.AnthropicAPIKey,
		Target: stack.Namespace + ":" + stack.KeyAnthropicAPIKey, Configured: cfg.HasAnthropicAPIKey,
	})
	if cfg.HasAuthToken {
		pr.Bindings = append(pr.Bindings, Binding{
			Type: Secret, Name: contract.AuthToken,
			Target: stack.Namespace + ":" + stack.KeyAuthToken, Configured: true,
		})
	}
	if render.HasBudgetAlertWebhook(cfg, sp) {
		pr.Bindings = append(pr.Bindings, Binding{
			Type: Secret, Name: contract.BudgetAlertWebhook,
			Target: render.BudgetAlertWebhookKey(cfg, sp), Configured: true,
		})
	}
	for _, b := range wc.R2Buckets {
		pr.R2Buckets = append(pr.R2Buckets, R2Bucket{Binding: b.Binding, Name: b.BucketName})
		pr.Bindings = append(pr.Bindings, Binding{Type: R2, Name: b.Binding, Target: b.BucketName})
	}
	if wc.Queues != nil {
		dlq := map[string]bool{}
		for _, c := range wc.Queues.Consumers {
			if c.DeadLetterQueue != "" {
				dlq[c.DeadLetterQueue] = true
			}
		}
		seen := map[string]bool{}
		addQueue := func(name string) {
			if !seen[name] {
				seen[name] = true
				pr.Queues = append(pr.Queues, QueueInfo{Name: name, DeadLetter: dlq[name]})
			}
		}
		for _, q := range wc.Queues.Producers {
			addQueue(q.Queue)
			pr.Bindings = append(pr.Bindings, Binding{Type: Queue, Name: q.Binding, Target: q.Queue})
		}
		for _, c := range wc.Queues.Consumers {
			addQueue(c.Queue)
			pr.Consumers = append(pr.Consumers, Consumer{
				Queue: c.Queue, BatchSize: c.MaxBatchSize, BatchTimeoutSeconds: c.MaxBatchTimeout,
				MaxRetries: c.MaxRetries, RetryDelaySeconds: c.RetryDelay,
				DeadLetterQueue: c.DeadLetterQueue, MaxConcurrency: c.MaxConcurrency,
			})
		}
	}
	for _, rl := range wc.RateLimits {
		pr.Bindings = append(pr.Bindings, Binding{Type: RateLimit, Name: rl.Name, Target: rl.NamespaceID, Limit: rl.Simple.Limit, Period: rl.Simple.Period})
	}
	for _, ae := range wc.AnalyticsEngine {
		pr.Bindings = append(pr.Bindings, Binding{Type: Analytics, Name: ae.Binding, Target: ae.Dataset})
	}
	for _, db := range wc.D1Databases {
		pr.Bindings = append(pr.Bindings, Binding{Type: D1, Name: db.Binding, Target: db.DatabaseName})
	}
	for _, kv := range wc.KVNamespaces {
		// The config binds a namespace by id; the only one zerocost renders
		// is the product's keys namespace, whose local id derives from its title.
		title := names.KeysNamespace(sp.Name, cfg.Stack)
		if kv.Binding != contract.Keys || kv.ID != render.LocalNamespaceID(title) {
			return nil, fmt.Errorf("%s: kv_namespaces binding %s (id %s) is not the product's keys namespace %s", sp.Name, kv.Binding, kv.ID, title)
		}
		pr.KVNamespaces = append(pr.KVNamespaces, KVNamespace{Binding: kv.Binding, Title: title})
		pr.Bindings = append(pr.Bindings, Binding{Type: KV, Name: kv.Binding, Target: title})
	}
	return pr, addWorkflows(pr, wc.Workflows)
}

// addWorkflows binds the config's Workflows, each running a class of the
// product's own Worker.
func addWorkflows(pr *Product, wfs []wrangler.Workflow) error {
	for _, wf := range wfs {
		if wf.ScriptName != "" && wf.ScriptName != pr.Script {
			return fmt.Errorf("%s: Workflow %s runs a class of Worker %q; zerocost runs its Workflows in the product's own Worker", pr.Name, wf.Name, wf.ScriptName)
		}
		pr.Bindings = append(pr.Bindings, Binding{Type: Workflow, Name: wf.Binding, Target: wf.Name, Class: wf.ClassName})
	}
	return nil
}

func productURL(cfg *stack.Config, pr *Product) string {
	switch {
	case len(pr.Routes) > 0 && pr.Routes[0].CustomDomain:
		return "https://" + pr.Routes[0].Pattern
	case len(pr.Routes) > 0:
		return "https://" + strings.TrimSuffix(strings.TrimSuffix(pr.Routes[0].Pattern, "*"), "/")
	case pr.WorkersDev && cfg.WorkersDevSubdomain != "":
		return "https://" + pr.Script + "." + cfg.WorkersDevSubdomain + ".workers.dev"
	}
	return ""
}

// required lists the bindings each pattern's Worker reads, by name and kind:
// its resource bindings (internal/contract) and the vars it cannot do without.
var required = func() map[string]map[string]Kind {
	kinds := map[string]Kind{contract.Outputs: R2, contract.JobQueue: Queue,
		contract.RateLimiter: RateLimit, contract.DoorLimiter: RateLimit, contract.ModelUsage: Analytics}
	vars := map[string][]string{
		stack.AsyncPipeline: {contract.VarDeadLetterQueue},
	}
	out := map[string]map[string]Kind{}
	for _, pat := range stack.Patterns {
		m := map[string]Kind{}
		for _, name := range contract.BindingsOf(pat) {
			// Optional in the Worker: usage is not recorded without
			// MODEL_USAGE; SPEND is there when the stack has a budget or keys
			// (Check demands it then); the keys' bindings when the
			// product has keys (checkAccess); JOB_WORKFLOW on runner: workflow.
			if !slices.Contains([]string{contract.ModelUsage, contract.Spend, contract.Keys, contract.KeyFailures, contract.DoorStandard, contract.JobWorkflow}, name) {
				m[name] = kinds[name]
			}
		}
		for _, name := range vars[pat] {
			m[name] = PlainText
		}
		out[pat] = m
	}
	return out
}()

// Check cross-checks the whole plan: names, unique bindings, one consumer per
// queue, dead-letter queues that exist and are consumed, the bindings each
// pattern needs, and consumer settings within Cloudflare's limits.
func (p *Plan) Check() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	owner := map[string]string{} // "kind name" -> product
	claim := func(prod, kind, name string) {
		key := kind + " " + name
		if o, ok := owner[key]; ok && o != prod {
			add("%s: %s %q is already used by product %s", prod, kind, name, o)
		}
		owner[key] = prod
	}
	declared := map[string]string{} // queue -> product
	consumers := map[string]string{}
	for _, pr := range p.Products {
		for _, q := range pr.Queues {
			declared[q.Name] = pr.Name
		}
	}
	if p.SpendDatabase != nil {
		if err := names.Check("database", p.SpendDatabase.Name); err != nil {
			add("spend database: %v", err)
		}
	}
	for _, pr := range p.Products {
		if p.SpendDatabase != nil {
			if b := pr.Binding(p.SpendDatabase.Binding); b == nil || b.Type != D1 {
				add("%s: the stack has a budget or customer keys, so the Worker needs a d1 binding named %s (the stack's spend database)", pr.Name, p.SpendDatabase.Binding)
			}
		}
		if err := names.Check("script", pr.Script); err != nil {
			add("%s: %v", pr.Name, err)
		}
		claim(pr.Name, "script", pr.Script)
		if pr.MainModule != render.MainModule {
			add("%s: main is %q; zerocost bundles the Worker as %q", pr.Name, pr.MainModule, render.MainModule)
		}
		bnames := map[string]Kind{}
		for _, b := range pr.Bindings {
			if !names.IsBindingName(b.Name) {
				add("%s: binding name %q is not a JavaScript identifier", pr.Name, b.Name)
			}
			if t, dup := bnames[b.Name]; dup {
				add("%s: binding %s is declared twice (%s and %s)", pr.Name, b.Name, t, b.Type)
			}
			bnames[b.Name] = b.Type
			info, ok := b.Type.Info()
			if !ok {
				add("%s: binding %s has type %q, which zerocost does not know", pr.Name, b.Name, b.Type)
				continue
			}
			if info.check != nil {
				for _, msg := range info.check(b, p) {
					add("%s: %s", pr.Name, msg)
				}
			}
		}
		for name, typ := range required[pr.Pattern] {
			if got, ok := bnames[name]; !ok || got != typ {
				why := ""
				if typ == R2 {
					why = " (job records, results and cached answers live in R2)"
				}
				add("%s: the %s pattern needs a %s binding named %s%s", pr.Name, pr.Pattern, typ, name, why)
			}
		}
		for _, msg := range pr.checkAccess() {
			add("%s: %s", pr.Name, msg)
		}
		for _, ns := range pr.KVNamespaces {
			claim(pr.Name, "KV namespace", ns.Title)
		}
		errs = append(errs, checkWorkflows(pr, claim)...)
		for _, b := range pr.R2Buckets {
			if err := names.Check("bucket", b.Name); err != nil {
				add("%s: %v", pr.Name, err)
			}
			claim(pr.Name, "R2 bucket", b.Name)
		}
		for _, q := range pr.Queues {
			if err := names.Check("queue", q.Name); err != nil {
				add("%s: %v", pr.Name, err)
			}
			claim(pr.Name, "queue", q.Name)
		}
		for _, c := range pr.Consumers {
			if o, dup := consumers[c.Queue]; dup {
				add("%s: queue %q already has a consumer (in %s): Cloudflare allows one Worker consumer per queue", pr.Name, c.Queue, o)
			}
			consumers[c.Queue] = pr.Name
			if c.DeadLetterQueue != "" {
				if _, ok := declared[c.DeadLetterQueue]; !ok {
					add("%s: dead_letter_queue %q of the consumer of %q names no declared queue", pr.Name, c.DeadLetterQueue, c.Queue)
				}
				if c.DeadLetterQueue == c.Queue {
					add("%s: queue %q is its own dead_letter_queue", pr.Name, c.Queue)
				}
			}
			if c.BatchSize < 1 || c.BatchSize > 100 {
				add("%s: consumer of %q: max_batch_size %d is outside 1..100", pr.Name, c.Queue, c.BatchSize)
			}
			if c.BatchTimeoutSeconds < 0 || c.BatchTimeoutSeconds > 60 {
				add("%s: consumer of %q: max_batch_timeout %d s is outside 0..60", pr.Name, c.Queue, c.BatchTimeoutSeconds)
			}
			if c.MaxRetries < 0 || c.MaxRetries > 100 {
				add("%s: consumer of %q: max_retries %d is outside 0..100", pr.Name, c.Queue, c.MaxRetries)
			}
		}
	}
	// Every dead-letter queue needs a consumer, or failed jobs sit unread.
	for _, pr := range p.Products {
		for _, q := range pr.Queues {
			if q.DeadLetter {
				if _, ok := consumers[q.Name]; !ok {
					add("%s: dead-letter queue %q has no consumer: failed jobs would never be recorded", pr.Name, q.Name)
				}
			}
		}
	}
	return errs
}

// checkWorkflows: runner: workflow binds the job's Workflow, and no two
// products name the same Workflow.
func checkWorkflows(pr Product, claim func(prod, kind, name string)) []error {
	var errs []error
	if pr.Settings.Runner == stack.RunnerWorkflow {
		if b := pr.Binding(contract.JobWorkflow); b == nil || b.Type != Workflow {
			errs = append(errs, fmt.Errorf("%s: runner: workflow needs a workflow binding named %s (the job's Workflow)", pr.Name, contract.JobWorkflow))
		}
	}
	for _, b := range pr.Bindings {
		if b.Type == Workflow {
			claim(pr.Name, "Workflow", b.Target)
		}
	}
	return errs
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
