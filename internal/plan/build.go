package plan

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/names"
	"github.com/zerocost/zerocost/internal/render"
	"github.com/zerocost/zerocost/internal/stack"
	"github.com/zerocost/zerocost/internal/wrangler"
)

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

	addVarsAndSecrets(pr, cfg, sp, wc)
	for _, b := range wc.R2Buckets {
		pr.R2Buckets = append(pr.R2Buckets, R2Bucket{Binding: b.Binding, Name: b.BucketName})
		pr.Bindings = append(pr.Bindings, Binding{Type: R2, Name: b.Binding, Target: b.BucketName})
	}
	if wc.Queues != nil {
		addQueues(pr, wc.Queues)
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
	if err := addKV(pr, cfg, sp, wc.KVNamespaces); err != nil {
		return nil, err
	}
	return pr, addWorkflows(pr, wc.Workflows)
}

// addVarsAndSecrets binds the config's vars (sorted by name) and the
// product's secrets.
func addVarsAndSecrets(pr *Product, cfg *stack.Config, sp stack.Product, wc *wrangler.Config) {
	for _, k := range slices.Sorted(maps.Keys(wc.Vars)) {
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
}

// addQueues lists the product's queues (each once, dead-letter queues marked),
// binds its producers and records its consumers.
func addQueues(pr *Product, qs *wrangler.Queues) {
	dlq := map[string]bool{}
	for _, c := range qs.Consumers {
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
	for _, q := range qs.Producers {
		addQueue(q.Queue)
		pr.Bindings = append(pr.Bindings, Binding{Type: Queue, Name: q.Binding, Target: q.Queue})
	}
	for _, c := range qs.Consumers {
		addQueue(c.Queue)
		pr.Consumers = append(pr.Consumers, Consumer{
			Queue: c.Queue, BatchSize: c.MaxBatchSize, BatchTimeoutSeconds: c.MaxBatchTimeout,
			MaxRetries: c.MaxRetries, RetryDelaySeconds: c.RetryDelay,
			DeadLetterQueue: c.DeadLetterQueue, MaxConcurrency: c.MaxConcurrency,
		})
	}
}

// addKV binds the product's keys namespace, the only KV namespace zerocost
// renders.
func addKV(pr *Product, cfg *stack.Config, sp stack.Product, kvs []wrangler.KVNamespace) error {
	for _, kv := range kvs {
		// The config binds a namespace by id; the only one zerocost renders
		// is the product's keys namespace, whose local id derives from its title.
		title := names.KeysNamespace(sp.Name, cfg.Stack)
		if kv.Binding != contract.Keys || kv.ID != render.LocalNamespaceID(title) {
			return fmt.Errorf("%s: kv_namespaces binding %s (id %s) is not the product's keys namespace %s", sp.Name, kv.Binding, kv.ID, title)
		}
		pr.KVNamespaces = append(pr.KVNamespaces, KVNamespace{Binding: kv.Binding, Title: title})
		pr.Bindings = append(pr.Bindings, Binding{Type: KV, Name: kv.Binding, Target: title})
	}
	return nil
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
