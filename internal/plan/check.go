package plan

import (
	"fmt"
	"slices"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/names"
	"github.com/zerocost/zerocost/internal/render"
	"github.com/zerocost/zerocost/internal/stack"
)

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
	c := &checker{p: p, owner: map[string]string{}, declared: map[string]string{}, consumers: map[string]string{}}
	for _, pr := range p.Products {
		for _, q := range pr.Queues {
			c.declared[q.Name] = pr.Name
		}
	}
	if p.SpendDatabase != nil {
		if err := names.Check("database", p.SpendDatabase.Name); err != nil {
			c.add("spend database: %v", err)
		}
	}
	for _, pr := range p.Products {
		c.product(pr)
	}
	// Every dead-letter queue needs a consumer, or failed jobs sit unread.
	for _, pr := range p.Products {
		for _, q := range pr.Queues {
			if q.DeadLetter {
				if _, ok := c.consumers[q.Name]; !ok {
					c.add("%s: dead-letter queue %q has no consumer: failed jobs would never be recorded", pr.Name, q.Name)
				}
			}
		}
	}
	return c.errs
}

// checker gathers Check's errors and what the products claimed so far.
type checker struct {
	p         *Plan
	errs      []error
	owner     map[string]string // "kind name" -> product
	declared  map[string]string // queue -> product
	consumers map[string]string // queue -> the product consuming it
}

func (c *checker) add(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

// claim records that prod uses a resource, and that no other product does.
func (c *checker) claim(prod, kind, name string) {
	key := kind + " " + name
	if o, ok := c.owner[key]; ok && o != prod {
		c.add("%s: %s %q is already used by product %s", prod, kind, name, o)
	}
	c.owner[key] = prod
}

// product checks one product's script, bindings and resources.
func (c *checker) product(pr Product) {
	p := c.p
	if p.SpendDatabase != nil {
		if b := pr.Binding(p.SpendDatabase.Binding); b == nil || b.Type != D1 {
			c.add("%s: the stack has a budget or customer keys, so the Worker needs a d1 binding named %s (the stack's spend database)", pr.Name, p.SpendDatabase.Binding)
		}
	}
	if err := names.Check("script", pr.Script); err != nil {
		c.add("%s: %v", pr.Name, err)
	}
	c.claim(pr.Name, "script", pr.Script)
	if pr.MainModule != render.MainModule {
		c.add("%s: main is %q; zerocost bundles the Worker as %q", pr.Name, pr.MainModule, render.MainModule)
	}
	c.bindings(pr)
	for _, msg := range pr.checkAccess() {
		c.add("%s: %s", pr.Name, msg)
	}
	for _, ns := range pr.KVNamespaces {
		c.claim(pr.Name, "KV namespace", ns.Title)
	}
	c.errs = append(c.errs, checkWorkflows(pr, c.claim)...)
	for _, b := range pr.R2Buckets {
		c.named(pr.Name, "bucket", "R2 bucket", b.Name)
	}
	for _, q := range pr.Queues {
		c.named(pr.Name, "queue", "queue", q.Name)
	}
	for _, cs := range pr.Consumers {
		c.consumer(pr.Name, cs)
	}
}

// named checks a resource's name against Cloudflare's rules for its kind
// (names.Check's) and claims it for prod.
func (c *checker) named(prod, nameKind, kind, name string) {
	if err := names.Check(nameKind, name); err != nil {
		c.add("%s: %v", prod, err)
	}
	c.claim(prod, kind, name)
}

// bindings checks the product's binding names and types, and that it has
// the bindings its pattern needs.
func (c *checker) bindings(pr Product) {
	bnames := map[string]Kind{}
	for _, b := range pr.Bindings {
		if !names.IsBindingName(b.Name) {
			c.add("%s: binding name %q is not a JavaScript identifier", pr.Name, b.Name)
		}
		if t, dup := bnames[b.Name]; dup {
			c.add("%s: binding %s is declared twice (%s and %s)", pr.Name, b.Name, t, b.Type)
		}
		bnames[b.Name] = b.Type
		info, ok := b.Type.Info()
		if !ok {
			c.add("%s: binding %s has type %q, which zerocost does not know", pr.Name, b.Name, b.Type)
			continue
		}
		if info.check != nil {
			for _, msg := range info.check(b, c.p) {
				c.add("%s: %s", pr.Name, msg)
			}
		}
	}
	for name, typ := range required[pr.Pattern] {
		if got, ok := bnames[name]; !ok || got != typ {
			why := ""
			if typ == R2 {
				why = " (job records, results and cached answers live in R2)"
			}
			c.add("%s: the %s pattern needs a %s binding named %s%s", pr.Name, pr.Pattern, typ, name, why)
		}
	}
}

// consumer checks a queue consumer: one per queue, a dead-letter queue that
// exists, and settings within Cloudflare Queues' limits.
func (c *checker) consumer(prod string, cs Consumer) {
	if o, dup := c.consumers[cs.Queue]; dup {
		c.add("%s: queue %q already has a consumer (in %s): Cloudflare allows one Worker consumer per queue", prod, cs.Queue, o)
	}
	c.consumers[cs.Queue] = prod
	if cs.DeadLetterQueue != "" {
		if _, ok := c.declared[cs.DeadLetterQueue]; !ok {
			c.add("%s: dead_letter_queue %q of the consumer of %q names no declared queue", prod, cs.DeadLetterQueue, cs.Queue)
		}
		if cs.DeadLetterQueue == cs.Queue {
			c.add("%s: queue %q is its own dead_letter_queue", prod, cs.Queue)
		}
	}
	if cs.BatchSize < 1 || cs.BatchSize > 100 {
		c.add("%s: consumer of %q: max_batch_size %d is outside 1..100", prod, cs.Queue, cs.BatchSize)
	}
	if cs.BatchTimeoutSeconds < 0 || cs.BatchTimeoutSeconds > 60 {
		c.add("%s: consumer of %q: max_batch_timeout %d s is outside 0..60", prod, cs.Queue, cs.BatchTimeoutSeconds)
	}
	if cs.MaxRetries < 0 || cs.MaxRetries > 100 {
		c.add("%s: consumer of %q: max_retries %d is outside 0..100", prod, cs.Queue, cs.MaxRetries)
	}
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
