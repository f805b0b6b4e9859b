package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan"
)

// memo runs a load once and keeps its result.
type memo[T any] struct {
	once sync.Once
	v    T
	err  error
}

func (m *memo[T]) get(load func() (T, error)) (T, error) {
	m.once.Do(func() { m.v, m.err = load() })
	return m.v, m.err
}

// memos is a memo per key (a queue's consumers, a zone's routes).
type memos[T any] struct {
	mu sync.Mutex
	m  map[string]*memo[T]
}

func (ms *memos[T]) get(key string, load func() (T, error)) (T, error) {
	ms.mu.Lock()
	m := ms.m[key]
	if m == nil {
		m = &memo[T]{}
		if ms.m == nil {
			ms.m = map[string]*memo[T]{}
		}
		ms.m[key] = m
	}
	ms.mu.Unlock()
	return m.get(load)
}

// firstOf is the first element of all that match accepts; nil when none does
// or when reading all failed (err).
func firstOf[T any](all []T, err error, match func(T) bool) (*T, error) {
	if err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(all, match); i >= 0 {
		return &all[i], nil
	}
	return nil, nil
}

// inventory is the account, read lazily and once, shared by every product.
type inventory struct {
	api     API
	account string

	buckets   memo[[]string]
	queues    memo[[]cfapi.Queue]
	domains   memo[[]cfapi.CustomDomain]
	subdomain memo[string]
	databases memo[[]cfapi.D1Database]
	kvs       memo[[]cfapi.KVNamespace]
	consumers memos[[]cfapi.Consumer] // by queue id
	routes    memos[[]cfapi.Route]    // by zone
}

func newInventory(api API, account string) *inventory {
	return &inventory{api: api, account: account}
}

func (in *inventory) hasBucket(ctx context.Context, name string) (bool, error) {
	all, err := in.buckets.get(func() ([]string, error) { return in.api.Buckets(ctx, in.account) })
	if slices.Contains(all, name) {
		return true, nil
	}
	return false, err
}

func (in *inventory) queue(ctx context.Context, name string) (*cfapi.Queue, error) {
	all, err := in.queues.get(func() ([]cfapi.Queue, error) { return in.api.Queues(ctx, in.account) })
	return firstOf(all, err, func(q cfapi.Queue) bool { return q.Name == name })
}

func (in *inventory) database(ctx context.Context, name string) (*cfapi.D1Database, error) {
	all, err := in.databases.get(func() ([]cfapi.D1Database, error) { return in.api.D1Databases(ctx, in.account) })
	return firstOf(all, err, func(d cfapi.D1Database) bool { return d.Name == name })
}

func (in *inventory) kvNamespace(ctx context.Context, title string) (*cfapi.KVNamespace, error) {
	all, err := in.kvs.get(func() ([]cfapi.KVNamespace, error) { return in.api.KVNamespaces(ctx, in.account) })
	return firstOf(all, err, func(n cfapi.KVNamespace) bool { return n.Title == title })
}

func (in *inventory) consumersOf(ctx context.Context, queueID string) ([]cfapi.Consumer, error) {
	return in.consumers.get(queueID, func() ([]cfapi.Consumer, error) { return in.api.Consumers(ctx, in.account, queueID) })
}

func (in *inventory) routesOf(ctx context.Context, zone string) ([]cfapi.Route, error) {
	return in.routes.get(zone, func() ([]cfapi.Route, error) { return in.api.Routes(ctx, zone) })
}

// apiFailure explains an API error, naming the token permission it needs.
func apiFailure(err error, permission string) error {
	if cfapi.IsAuth(err) {
		return fmt.Errorf("%w; the API token needs %s (see docs/verify.md)", err, permission)
	}
	return err
}

// Token permissions (Cloudflare's names) each resource check needs.
const (
	permR2      = "Workers R2 Storage Read"
	permQueues  = "Queues Read"
	permScripts = "Workers Scripts Read"
	permRoutes  = "Workers Routes Read (on the zone)"
	permD1      = "D1 Read"
	permKV      = "Workers KV Storage Read"
	// permWorkflows: the Workflows API is under the Workers Scripts
	// permission group (Cloudflare's API docs list it for /workflows).
	permWorkflows = "Workers Scripts Read"
)

// resourceSteps are a product's resource checks.
func resourceSteps(o *Options, in *inventory, pr *plan.Product) []step {
	var steps []step
	add := func(name string, run func(ctx context.Context) (string, error)) {
		steps = append(steps, step{product: pr.Name, name: name, kind: KindResource, run: run})
	}
	storageSteps(o, in, pr, add)
	workerSteps(o, in, pr, add)
	return steps
}

// addCheck adds a resource check of the product.
type addCheck func(name string, run func(ctx context.Context) (string, error))

// storageSteps adds the checks of a product's storage: its R2 buckets (and
// their lifecycle rules), queues, the stack's spend database, KV namespaces.
// Where the stack outputs record an id, it must be the resource's.
func storageSteps(o *Options, in *inventory, pr *plan.Product, add addCheck) {
	out, hasOutputs := o.Outputs[pr.Name]
	for _, b := range pr.R2Buckets {
		add("r2 bucket "+b.Name, func(ctx context.Context) (string, error) {
			ok, err := in.hasBucket(ctx, b.Name)
			if err != nil {
				return "", apiFailure(err, permR2)
			}
			if !ok {
				return "", drifted([]Drift{{Kind: Missing, Name: "R2 bucket " + b.Name}})
			}
			if got := out.R2Buckets[b.Binding]; hasOutputs && got != "" && got != b.Name {
				return "", drifted([]Drift{{Kind: Mismatched, Name: "R2 bucket of " + b.Binding + " in the stack outputs", Expected: b.Name, Actual: got}})
			}
			return "exists", nil
		})
		if len(pr.Lifecycle) > 0 {
			add("r2 lifecycle "+b.Name, func(ctx context.Context) (string, error) {
				return checkLifecycle(ctx, in, pr, b.Name)
			})
		}
	}
	for _, q := range pr.Queues {
		label := "queue "
		if q.DeadLetter {
			label = "dead-letter queue "
		}
		add(label+q.Name, func(ctx context.Context) (string, error) {
			got, err := in.queue(ctx, q.Name)
			return foundWithID(got, err, func(q *cfapi.Queue) string { return q.ID }, permQueues,
				Drift{Kind: Missing, Name: label + q.Name}, out.QueueIDs[q.Name])
		})
	}
	if db := o.Plan.SpendDatabase; db != nil {
		add("d1 database "+db.Name, func(ctx context.Context) (string, error) {
			got, err := in.database(ctx, db.Name)
			return foundWithID(got, err, func(d *cfapi.D1Database) string { return d.ID }, permD1,
				Drift{Kind: Missing, Name: "D1 database " + db.Name, Expected: "the stack's spend database"}, out.D1DatabaseIDs[db.Binding])
		})
	}
	for _, ns := range pr.KVNamespaces {
		add("kv namespace "+ns.Title, func(ctx context.Context) (string, error) {
			got, err := in.kvNamespace(ctx, ns.Title)
			return foundWithID(got, err, func(n *cfapi.KVNamespace) string { return n.ID }, permKV,
				Drift{Kind: Missing, Name: "KV namespace " + ns.Title, Expected: "the product's customer keys, bound as " + ns.Binding}, out.KVNamespaceIDs[ns.Binding])
		})
	}
}

// foundWithID is the check of a resource looked up by name (got, err): it
// exists (else the missing drift), and its id is want, the id the stack
// outputs record for it, when they record one (none without outputs).
func foundWithID[T any](got *T, err error, id func(*T) string, perm string, missing Drift, want string) (string, error) {
	if err != nil {
		return "", apiFailure(err, perm)
	}
	if got == nil {
		return "", drifted([]Drift{missing})
	}
	if want != "" && want != id(got) {
		return "", drifted([]Drift{{Kind: Mismatched, Name: missing.Name + " id", Expected: want + " (stack outputs)", Actual: id(got)}})
	}
	return "id " + id(got), nil
}

// workerSteps adds the checks of a product's Worker: its queue consumers,
// Workflows, script, workers.dev route, routes and custom domains.
func workerSteps(o *Options, in *inventory, pr *plan.Product, add addCheck) {
	out, hasOutputs := o.Outputs[pr.Name]
	for _, c := range pr.Consumers {
		add("consumer of "+c.Queue, func(ctx context.Context) (string, error) {
			return checkConsumer(ctx, in, pr, c)
		})
	}
	for _, b := range pr.Bindings {
		if b.Type == plan.Workflow {
			add("workflow "+b.Target, func(ctx context.Context) (string, error) {
				return checkWorkflow(ctx, in, pr, b)
			})
		}
	}
	add("worker "+pr.Script, func(ctx context.Context) (string, error) {
		return checkScript(ctx, in, pr, out, hasOutputs)
	})
	if pr.WorkersDev {
		add("workers.dev", func(ctx context.Context) (string, error) {
			return checkWorkersDev(ctx, in, o.Plan, pr)
		})
	}
	for _, r := range pr.Routes {
		if r.CustomDomain {
			add("custom domain "+r.Pattern, func(ctx context.Context) (string, error) {
				return checkCustomDomain(ctx, in, pr, r)
			})
			continue
		}
		add("route "+r.Pattern, func(ctx context.Context) (string, error) {
			return checkRoute(ctx, in, pr, r)
		})
	}
}

// checkWorkflow: the Workflow exists and runs the planned class of the
// product's Worker.
func checkWorkflow(ctx context.Context, in *inventory, pr *plan.Product, b plan.Binding) (string, error) {
	got, err := in.api.Workflow(ctx, in.account, b.Target)
	switch {
	case cfapi.IsNotFound(err):
		return "", drifted([]Drift{{Kind: Missing, Name: "Workflow " + b.Target, Expected: "class " + b.Class + " of " + pr.Script}})
	case err != nil:
		return "", apiFailure(err, permWorkflows)
	}
	var ds []Drift
	if got.ClassName != b.Class {
		ds = append(ds, Drift{Kind: Mismatched, Name: "Workflow " + b.Target + " class_name", Expected: b.Class, Actual: shown(got.ClassName)})
	}
	if got.ScriptName != pr.Script {
		ds = append(ds, Drift{Kind: Mismatched, Name: "Workflow " + b.Target + " script_name", Expected: pr.Script, Actual: shown(got.ScriptName)})
	}
	if err := drifted(ds); err != nil {
		return "", err
	}
	return "runs " + got.ClassName + " of " + got.ScriptName, nil
}

func checkConsumer(ctx context.Context, in *inventory, pr *plan.Product, c plan.Consumer) (string, error) {
	q, err := in.queue(ctx, c.Queue)
	if err != nil {
		return "", apiFailure(err, permQueues)
	}
	if q == nil {
		return "", drifted([]Drift{{Kind: Missing, Name: "consumer of " + c.Queue, Expected: "queue " + c.Queue + " does not exist"}})
	}
	all, err := in.consumersOf(ctx, q.ID)
	if err != nil {
		return "", apiFailure(err, permQueues)
	}
	var mine *cfapi.Consumer
	var ds []Drift
	for i := range all {
		cs := &all[i]
		if mine == nil && cs.ScriptName == pr.Script && (cs.Type == "" || cs.Type == "worker") {
			mine = cs
			continue
		}
		who := cs.ScriptName
		if who == "" {
			who = cs.Type
		}
		ds = append(ds, Drift{Kind: Extra, Name: "consumer of " + c.Queue, Actual: fmt.Sprintf("%s, id %s", who, cs.ID)})
	}
	if mine == nil {
		ds = append([]Drift{{Kind: Missing, Name: "consumer of " + c.Queue, Expected: "Worker " + pr.Script}}, ds...)
		return "", drifted(ds)
	}
	cmp := func(name string, want, got int) {
		if want != got {
			ds = append(ds, Drift{Kind: Mismatched, Name: "settings." + name, Expected: strconv.Itoa(want), Actual: strconv.Itoa(got)})
		}
	}
	cmp("batch_size", c.BatchSize, mine.BatchSize)
	cmp("max_retries", c.MaxRetries, mine.MaxRetries)
	// wrangler's max_batch_timeout is seconds; the API's max_wait_time_ms is milliseconds.
	cmp("max_wait_time_ms", c.BatchTimeoutSeconds*1000, mine.MaxWaitTimeMs)
	cmp("retry_delay", c.RetryDelaySeconds, mine.RetryDelay)
	if c.MaxConcurrency > 0 {
		got := "null (the platform's maximum)"
		if mine.MaxConcurrency != nil {
			got = strconv.Itoa(*mine.MaxConcurrency)
		}
		if mine.MaxConcurrency == nil || *mine.MaxConcurrency != c.MaxConcurrency {
			ds = append(ds, Drift{Kind: Mismatched, Name: "settings.max_concurrency", Expected: strconv.Itoa(c.MaxConcurrency), Actual: got})
		}
	}
	if mine.DeadLetterQueue != c.DeadLetterQueue {
		ds = append(ds, Drift{Kind: Mismatched, Name: "dead_letter_queue", Expected: quoteOrNone(c.DeadLetterQueue), Actual: quoteOrNone(mine.DeadLetterQueue)})
	}
	if err := drifted(ds); err != nil {
		return "", err
	}
	return fmt.Sprintf("Worker %s, batch %d, %d retries, wait %d ms", pr.Script, mine.BatchSize, mine.MaxRetries, mine.MaxWaitTimeMs), nil
}

func quoteOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return strconv.Quote(s)
}

// shown is a value as drift prints it: quoted and clipped.
func shown(s string) string { return strconv.Quote(clip(s, 80)) }

func checkScript(ctx context.Context, in *inventory, pr *plan.Product, out outputs.Product, hasOutputs bool) (string, error) {
	st, err := in.api.ScriptSettings(ctx, in.account, pr.Script)
	if cfapi.IsNotFound(err) {
		return "", drifted([]Drift{{Kind: Missing, Name: "Worker " + pr.Script}})
	}
	if err != nil {
		return "", apiFailure(err, permScripts)
	}
	bc := &bindingCheck{ctx: ctx, in: in, out: out, hasOutputs: hasOutputs}
	if st.CompatibilityDate != "" && st.CompatibilityDate != pr.CompatibilityDate {
		bc.ds = append(bc.ds, Drift{Kind: Mismatched, Name: "compatibility_date", Expected: pr.CompatibilityDate, Actual: st.CompatibilityDate})
	}
	actual := map[string]cfapi.Binding{}
	for _, b := range st.Bindings {
		actual[b.Name] = b
	}
	for _, want := range pr.Bindings {
		got, ok := actual[want.Name]
		name := "binding " + want.Name
		if !ok {
			bc.ds = append(bc.ds, Drift{Kind: Missing, Name: name, Expected: string(want.Type)})
			continue
		}
		delete(actual, want.Name)
		if got.Type != string(want.Type) {
			bc.ds = append(bc.ds, Drift{Kind: Mismatched, Name: name + " type", Expected: string(want.Type), Actual: got.Type})
			continue
		}
		compare, ok := driftChecks[want.Type]
		if !ok {
			bc.notes = append(bc.notes, fmt.Sprintf("%s: type %s not compared", want.Name, want.Type))
			continue
		}
		compare(bc, want, got)
	}
	ds, notes := bc.ds, bc.notes
	extra := make([]string, 0, len(actual))
	for name := range actual {
		extra = append(extra, name)
	}
	sort.Strings(extra)
	for _, name := range extra {
		ds = append(ds, Drift{Kind: Extra, Name: "binding " + name, Actual: actual[name].Type})
	}
	if err := drifted(ds); err != nil {
		return "", err
	}
	detail := fmt.Sprintf("%d bindings as planned", len(pr.Bindings))
	if len(notes) > 0 {
		detail += "; " + strings.Join(notes, "; ")
	}
	return detail, nil
}

// bindingCheck collects the drift of one Worker's bindings.
type bindingCheck struct {
	ctx        context.Context
	in         *inventory
	out        outputs.Product
	hasOutputs bool
	ds         []Drift
	notes      []string
}

// target records a mismatch of the binding's target field (plan.KindInfo.Field).
func (c *bindingCheck) target(want plan.Binding, expected, actual string) {
	if expected == actual {
		return
	}
	info, _ := want.Type.Info()
	c.ds = append(c.ds, Drift{Kind: Mismatched, Name: "binding " + want.Name + " " + info.Field, Expected: shown(expected), Actual: shown(actual)})
}

// sameTarget compares the plan's target with the API field that carries it.
func sameTarget(field func(cfapi.Binding) string) func(*bindingCheck, plan.Binding, cfapi.Binding) {
	return func(c *bindingCheck, want plan.Binding, got cfapi.Binding) { c.target(want, want.Target, field(got)) }
}

// driftChecks compares a planned binding with the one Cloudflare's API shows
// (same name and type), per kind; TestEveryKindIsCompared fails while a kind
// of plan.Kinds has no entry.
var driftChecks = map[plan.Kind]func(c *bindingCheck, want plan.Binding, got cfapi.Binding){
	plan.PlainText: sameTarget(func(b cfapi.Binding) string { return b.Text }),
	plan.R2:        sameTarget(func(b cfapi.Binding) string { return b.BucketName }),
	plan.Queue:     sameTarget(func(b cfapi.Binding) string { return b.QueueName }),
	plan.Analytics: sameTarget(func(b cfapi.Binding) string { return b.Dataset }),
	// The plan names the database; the binding carries its uuid: the
	// account's database of that name must be the one bound.
	plan.D1: func(c *bindingCheck, want plan.Binding, got cfapi.Binding) {
		id := got.ID
		if id == "" {
			id = got.DatabaseID
		}
		db, err := c.in.database(c.ctx, want.Target)
		switch {
		case err != nil:
			c.notes = append(c.notes, fmt.Sprintf("%s: database not compared (%v)", want.Name, apiFailure(err, permD1)))
		case db == nil:
			c.ds = append(c.ds, Drift{Kind: Mismatched, Name: "binding " + want.Name + " id", Expected: "the id of D1 database " + want.Target + " (missing)", Actual: shown(id)})
		case db.ID != id:
			c.ds = append(c.ds, Drift{Kind: Mismatched, Name: "binding " + want.Name + " id", Expected: shown(db.ID) + " (D1 database " + want.Target + ")", Actual: shown(id)})
		}
	},
	// The plan names the namespace by title; the binding carries its id.
	plan.KV: func(c *bindingCheck, want plan.Binding, got cfapi.Binding) {
		ns, err := c.in.kvNamespace(c.ctx, want.Target)
		switch {
		case err != nil:
			c.notes = append(c.notes, fmt.Sprintf("%s: namespace not compared (%v)", want.Name, apiFailure(err, permKV)))
		case ns == nil:
			c.ds = append(c.ds, Drift{Kind: Mismatched, Name: "binding " + want.Name + " namespace_id", Expected: "the id of KV namespace " + want.Target + " (missing)", Actual: shown(got.NamespaceID)})
		default:
			c.target(want, ns.ID, got.NamespaceID)
		}
	},
	// The Workflow by name, and the class of this Worker it runs.
	plan.Workflow: func(c *bindingCheck, want plan.Binding, got cfapi.Binding) {
		c.target(want, want.Target, got.WorkflowName)
		if got.ClassName != want.Class {
			c.ds = append(c.ds, Drift{Kind: Mismatched, Name: "binding " + want.Name + " class_name", Expected: shown(want.Class), Actual: shown(got.ClassName)})
		}
	},
	// Secrets are compared by name and type only: the API never shows them.
	plan.Secret: func(*bindingCheck, plan.Binding, cfapi.Binding) {},
	plan.RateLimit: func(c *bindingCheck, want plan.Binding, got cfapi.Binding) {
		c.target(want, want.Target, got.NamespaceID)
		name := "binding " + want.Name + " simple"
		expected := fmt.Sprintf("limit %d per %d s", want.Limit, want.Period)
		if got.Simple == nil {
			c.ds = append(c.ds, Drift{Kind: Missing, Name: name, Expected: expected})
		} else if int(got.Simple.Limit) != want.Limit || int(got.Simple.Period) != want.Period {
			c.ds = append(c.ds, Drift{Kind: Mismatched, Name: name, Expected: expected,
				Actual: fmt.Sprintf("limit %d per %d s", int(got.Simple.Limit), int(got.Simple.Period))})
		}
	},
}

func checkWorkersDev(ctx context.Context, in *inventory, p *plan.Plan, pr *plan.Product) (string, error) {
	var ds []Drift
	sub, err := in.subdomain.get(func() (string, error) { return in.api.AccountSubdomain(ctx, in.account) })
	switch {
	case cfapi.IsNotFound(err):
		ds = append(ds, Drift{Kind: Missing, Name: "account workers.dev subdomain", Expected: p.WorkersDevSubdomain})
	case err != nil:
		return "", apiFailure(err, permScripts)
	case p.WorkersDevSubdomain != "" && sub != p.WorkersDevSubdomain:
		ds = append(ds, Drift{Kind: Mismatched, Name: "account workers.dev subdomain", Expected: p.WorkersDevSubdomain, Actual: sub})
	}
	on, err := in.api.ScriptOnWorkersDev(ctx, in.account, pr.Script)
	switch {
	case cfapi.IsNotFound(err):
		ds = append(ds, Drift{Kind: Missing, Name: "Worker " + pr.Script})
	case err != nil:
		return "", apiFailure(err, permScripts)
	case !on:
		ds = append(ds, Drift{Kind: Missing, Name: "workers.dev route of " + pr.Script, Expected: "enabled"})
	}
	if err := drifted(ds); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s.%s.workers.dev enabled", pr.Script, sub), nil
}

func checkRoute(ctx context.Context, in *inventory, pr *plan.Product, r plan.Route) (string, error) {
	if r.ZoneID == "" {
		return "", errors.New("the plan names no zone_id for this route")
	}
	routes, err := in.routesOf(ctx, r.ZoneID)
	if err != nil {
		return "", apiFailure(err, permRoutes)
	}
	var ds []Drift
	found := false
	for _, got := range routes {
		switch {
		case got.Pattern == r.Pattern && got.Script != pr.Script:
			found = true
			ds = append(ds, Drift{Kind: Mismatched, Name: "route " + r.Pattern + " script", Expected: pr.Script, Actual: quoteOrNone(got.Script)})
		case got.Pattern == r.Pattern:
			found = true
		case got.Script == pr.Script && !planHasRoute(pr, r.ZoneID, got.Pattern):
			ds = append(ds, Drift{Kind: Extra, Name: "route " + got.Pattern, Actual: "to " + pr.Script})
		}
	}
	if !found {
		ds = append([]Drift{{Kind: Missing, Name: "route " + r.Pattern, Expected: "zone " + r.ZoneID}}, ds...)
	}
	if err := drifted(ds); err != nil {
		return "", err
	}
	return "zone " + r.ZoneID + " routes it to " + pr.Script, nil
}

func planHasRoute(pr *plan.Product, zone, pattern string) bool {
	for _, r := range pr.Routes {
		if !r.CustomDomain && r.ZoneID == zone && r.Pattern == pattern {
			return true
		}
	}
	return false
}

func checkCustomDomain(ctx context.Context, in *inventory, pr *plan.Product, r plan.Route) (string, error) {
	all, err := in.domains.get(func() ([]cfapi.CustomDomain, error) { return in.api.CustomDomains(ctx, in.account) })
	if err != nil {
		return "", apiFailure(err, permScripts)
	}
	for _, d := range all {
		if d.Hostname != r.Pattern {
			continue
		}
		var ds []Drift
		if d.Service != pr.Script {
			ds = append(ds, Drift{Kind: Mismatched, Name: "custom domain " + r.Pattern + " service", Expected: pr.Script, Actual: quoteOrNone(d.Service)})
		}
		if r.ZoneID != "" && d.ZoneID != r.ZoneID {
			ds = append(ds, Drift{Kind: Mismatched, Name: "custom domain " + r.Pattern + " zone_id", Expected: r.ZoneID, Actual: d.ZoneID})
		}
		if err := drifted(ds); err != nil {
			return "", err
		}
		return "attached to " + pr.Script, nil
	}
	return "", drifted([]Drift{{Kind: Missing, Name: "custom domain " + r.Pattern}})
}
