package plan

import (
	"fmt"
	"strconv"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/names"
)

// Kind is a binding's kind, spelled as Cloudflare's API and the Pulumi
// provider spell its type.
type Kind string

// The binding kinds zerocost deploys. Kinds describes each.
const (
	R2        Kind = "r2_bucket"
	Queue     Kind = "queue"
	PlainText Kind = "plain_text"
	Secret    Kind = "secret_text"
	RateLimit Kind = "ratelimit"
	Analytics Kind = "analytics_engine"
	D1        Kind = "d1"
	KV        Kind = "kv_namespace"
	Workflow  Kind = "workflow"
)

// KindInfo is what every side of zerocost knows about a binding kind. It is
// the one registry of kinds: each consumer that turns a binding into
// something (infra/'s Pulumi args, the local runtime's Miniflare options,
// verify's drift comparison, the fake API's seed) keeps a map from Kind to its
// adapter next to its own types, and a test in that package fails while the
// map and Kinds differ (plantest.CheckKinds). Adding a kind is a row here plus
// the adapters those tests then ask for.
type KindInfo struct {
	Kind Kind
	// Target says what Binding.Target holds.
	Target string
	// Field is the field of the API's binding object (a Worker's settings)
	// that carries the target; the Pulumi provider's property is its
	// camelCase.
	Field string
	// Secret: Target is a config key (stack namespace:key); the value is set
	// by Pulumi, never written in the plan, and the API never shows it.
	Secret bool
	// Resource names the resource the product owns and Target names (by
	// title or name), "" when the target is not a resource of the product.
	Resource string
	// check returns what is wrong with a binding of this kind in the plan.
	check func(b Binding, p *Plan) []string
}

// Kinds lists every binding kind, in the order the plan lists bindings.
var Kinds = []KindInfo{
	{Kind: PlainText, Target: "the var's value", Field: "text"},
	{Kind: Secret, Target: "the config key of the secret", Field: "text", Secret: true},
	{Kind: R2, Target: "the bucket's name", Field: "bucket_name", Resource: "R2 bucket"},
	{Kind: Queue, Target: "the queue's name", Field: "queue_name", Resource: "queue", check: checkProducer},
	{Kind: RateLimit, Target: "the rate limiter's namespace id", Field: "namespace_id", check: checkRateLimit},
	{Kind: Analytics, Target: "the Analytics Engine dataset", Field: "dataset"},
	// The stack's spend database (Plan.SpendDatabase), not a product's own:
	// the API binds a D1 database by its id.
	{Kind: D1, Target: "the D1 database's name", Field: "id", Resource: "D1 database", check: checkD1},
	// A product's KV namespace of customer keys (access: keys): the plan
	// names it by title, the API binds it by its id.
	{Kind: KV, Target: "the KV namespace's title", Field: "namespace_id", Resource: "KV namespace", check: checkKV},
	// An event agent's jobs (runner: workflow): the Workflow runs the
	// class Binding.Class of this same Worker.
	{Kind: Workflow, Target: "the Workflow's name", Field: "workflow_name", Resource: "Workflow", check: checkWorkflow},
}

// Info returns the kind's entry of Kinds.
func (k Kind) Info() (KindInfo, bool) {
	for _, i := range Kinds {
		if i.Kind == k {
			return i, true
		}
	}
	return KindInfo{}, false
}

// checkRateLimit: Cloudflare's ratelimit binding takes a period of 10 or 60
// seconds and a positive integer namespace id.
func checkRateLimit(b Binding, _ *Plan) []string {
	var out []string
	if b.Period != 10 && b.Period != 60 {
		out = append(out, fmt.Sprintf("rate limiter %s has period %d; Cloudflare allows 10 or 60 seconds", b.Name, b.Period))
	}
	if n, err := strconv.Atoi(b.Target); err != nil || n <= 0 {
		out = append(out, fmt.Sprintf("rate limiter %s has namespace_id %q; it must be a positive integer", b.Name, b.Target))
	}
	return out
}

// checkD1: a D1 binding points at the stack's spend database, the one D1
// database zerocost creates.
func checkD1(b Binding, p *Plan) []string {
	if p.SpendDatabase == nil || p.SpendDatabase.Name != b.Target {
		return []string{fmt.Sprintf("D1 binding %s points at database %q, which is not the stack's spend database", b.Name, b.Target)}
	}
	return nil
}

// checkProducer: a producer sends to a queue some product declares.
func checkProducer(b Binding, p *Plan) []string {
	for _, pr := range p.Products {
		for _, q := range pr.Queues {
			if q.Name == b.Target {
				return nil
			}
		}
	}
	return []string{fmt.Sprintf("producer %s sends to queue %q, which no product declares", b.Name, b.Target)}
}

// checkKV: a KV binding points at a namespace its product owns.
func checkKV(b Binding, p *Plan) []string {
	for _, pr := range p.Products {
		for _, ns := range pr.KVNamespaces {
			if ns.Binding == b.Name && ns.Title == b.Target {
				return nil
			}
		}
	}
	return []string{fmt.Sprintf("KV binding %s points at namespace %q, which no product owns", b.Name, b.Target)}
}

// checkWorkflow: the Workflow runs the class the event agent's Worker
// exports, and its name follows Cloudflare's rule.
func checkWorkflow(b Binding, _ *Plan) []string {
	var out []string
	if b.Class != contract.JobWorkflowClass {
		out = append(out, fmt.Sprintf("Workflow binding %s runs class %q; the Worker exports %q", b.Name, b.Class, contract.JobWorkflowClass))
	}
	if err := names.Check("workflow", b.Target); err != nil {
		out = append(out, err.Error())
	}
	return out
}
