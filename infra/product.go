package main

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/zerocost/zerocost/infra/cloudflare"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/stack"
)

// Component type tokens, one per pattern.
var componentTypes = map[string]string{
	stack.EventAgent:    "zerocost:patterns:EventDrivenAgent",
	stack.AsyncPipeline: "zerocost:patterns:AsyncPipeline",
	stack.EdgeCache:     "zerocost:patterns:EdgeCacheLayer",
}

// Product is one product's component: its Worker and every resource it binds,
// all parented to the component.
type Product struct {
	pulumi.ResourceState

	Script       *cloudflare.WorkersScript
	KVNamespaces map[string]*cloudflare.WorkersKvNamespace // by binding
	Buckets      map[string]*cloudflare.R2Bucket           // by binding
	Queues       map[string]*cloudflare.Queue              // by queue name
	Consumers    []*cloudflare.QueueConsumer
}

// NewProduct creates the product's resources from its plan entry. code is the
// bundled Worker; secrets maps config keys to their (secret) values.
func NewProduct(ctx *pulumi.Context, p *plan.Plan, pr *plan.Product, code string, secrets map[string]pulumi.StringOutput, opts ...pulumi.ResourceOption) (*Product, error) {
	token, ok := componentTypes[pr.Pattern]
	if !ok {
		return nil, fmt.Errorf("no component for pattern %q", pr.Pattern)
	}
	c := &Product{
		KVNamespaces: map[string]*cloudflare.WorkersKvNamespace{},
		Buckets:      map[string]*cloudflare.R2Bucket{},
		Queues:       map[string]*cloudflare.Queue{},
	}
	if err := ctx.RegisterComponentResource(token, pr.Name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	account := pulumi.String(p.AccountID)

	for _, kv := range pr.KVNamespaces {
		ns, err := cloudflare.NewWorkersKvNamespace(ctx, kv.Title, &cloudflare.WorkersKvNamespaceArgs{
			AccountId: account,
			Title:     pulumi.String(kv.Title),
		}, parent)
		if err != nil {
			return nil, err
		}
		c.KVNamespaces[kv.Binding] = ns
	}
	for _, b := range pr.R2Buckets {
		// Data survives `pulumi destroy` unless the stack sets zerocost:retainData false.
		bucket, err := cloudflare.NewR2Bucket(ctx, b.Name, &cloudflare.R2BucketArgs{
			AccountId: account,
			Name:      pulumi.String(b.Name),
		}, parent, pulumi.RetainOnDelete(p.RetainData))
		if err != nil {
			return nil, err
		}
		c.Buckets[b.Binding] = bucket
	}
	for _, q := range pr.Queues {
		queue, err := cloudflare.NewQueue(ctx, q.Name, &cloudflare.QueueArgs{
			AccountId: account,
			QueueName: pulumi.String(q.Name),
		}, parent)
		if err != nil {
			return nil, err
		}
		c.Queues[q.Name] = queue
	}

	bindings, err := c.bindings(pr, secrets)
	if err != nil {
		return nil, err
	}
	script, err := cloudflare.NewWorkersScript(ctx, pr.Script, &cloudflare.WorkersScriptArgs{
		AccountId:         account,
		ScriptName:        pulumi.String(pr.Script),
		Content:           pulumi.String(code),
		MainModule:        pulumi.String(pr.MainModule),
		CompatibilityDate: pulumi.String(pr.CompatibilityDate),
		Bindings:          bindings,
	}, parent)
	if err != nil {
		return nil, err
	}
	c.Script = script
	scriptDep := pulumi.DependsOn([]pulumi.Resource{script})

	for _, cs := range pr.Consumers {
		queue := c.Queues[cs.Queue]
		if queue == nil {
			return nil, fmt.Errorf("consumer of %q: the product declares no such queue", cs.Queue)
		}
		deps := []pulumi.Resource{script}
		args := &cloudflare.QueueConsumerArgs{
			AccountId:  account,
			QueueId:    queue.QueueId,
			ScriptName: script.ScriptName,
			Type:       pulumi.String("worker"),
			Settings: &cloudflare.QueueConsumerSettings{
				BatchSize:  pulumi.Float64(float64(cs.BatchSize)),
				MaxRetries: pulumi.Float64(float64(cs.MaxRetries)),
				// wrangler's max_batch_timeout is seconds; the API wants milliseconds.
				MaxWaitTimeMs: pulumi.Float64(float64(cs.BatchTimeoutSeconds) * 1000),
			},
		}
		if cs.RetryDelaySeconds > 0 {
			args.Settings.RetryDelay = pulumi.Float64(float64(cs.RetryDelaySeconds))
		}
		if cs.MaxConcurrency > 0 {
			args.Settings.MaxConcurrency = pulumi.Float64(float64(cs.MaxConcurrency))
		}
		if cs.DeadLetterQueue != "" {
			dlq := c.Queues[cs.DeadLetterQueue]
			if dlq == nil {
				return nil, fmt.Errorf("consumer of %q: dead-letter queue %q is not one of the product's queues", cs.Queue, cs.DeadLetterQueue)
			}
			// The API takes the dead-letter queue by name; depending on the
			// resource makes sure it exists first.
			args.DeadLetterQueue = dlq.QueueName
			deps = append(deps, dlq)
		}
		consumer, err := cloudflare.NewQueueConsumer(ctx, cs.Queue+"-consumer", args, parent, pulumi.DependsOn(deps))
		if err != nil {
			return nil, err
		}
		c.Consumers = append(c.Consumers, consumer)
	}

	for i, r := range pr.Routes {
		name := fmt.Sprintf("%s-route-%d", pr.Script, i)
		if r.CustomDomain {
			if _, err := cloudflare.NewWorkersCustomDomain(ctx, name, &cloudflare.WorkersCustomDomainArgs{
				AccountId: account,
				Hostname:  pulumi.String(r.Pattern),
				Service:   script.ScriptName,
				ZoneId:    pulumi.String(r.ZoneID),
			}, parent, scriptDep); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := cloudflare.NewWorkersRoute(ctx, name, &cloudflare.WorkersRouteArgs{
			ZoneId:  pulumi.String(r.ZoneID),
			Pattern: pulumi.String(r.Pattern),
			Script:  script.ScriptName,
		}, parent, scriptDep); err != nil {
			return nil, err
		}
	}
	if pr.WorkersDev {
		if _, err := cloudflare.NewWorkersScriptSubdomain(ctx, pr.Script+"-workers-dev", &cloudflare.WorkersScriptSubdomainArgs{
			AccountId:  account,
			ScriptName: script.ScriptName,
			Enabled:    pulumi.Bool(true),
		}, parent, scriptDep); err != nil {
			return nil, err
		}
	}
	if len(pr.Crons) > 0 {
		var schedules []cloudflare.WorkersCronTriggerSchedule
		for _, cr := range pr.Crons {
			schedules = append(schedules, cloudflare.WorkersCronTriggerSchedule{Cron: pulumi.String(cr)})
		}
		if _, err := cloudflare.NewWorkersCronTrigger(ctx, pr.Script+"-crons", &cloudflare.WorkersCronTriggerArgs{
			AccountId:  account,
			ScriptName: script.ScriptName,
			Schedules:  schedules,
		}, parent, scriptDep); err != nil {
			return nil, err
		}
	}

	outputs := pulumi.Map{
		"pattern": pulumi.String(pr.Pattern),
		"script":  script.ScriptName,
		"url":     pulumi.String(pr.URL),
	}
	kvIDs := pulumi.StringMap{}
	for binding, ns := range c.KVNamespaces {
		kvIDs[binding] = ns.ID().ToStringOutput()
	}
	outputs["kv_namespace_ids"] = kvIDs
	buckets := pulumi.StringMap{}
	for binding, b := range c.Buckets {
		buckets[binding] = b.Name
	}
	outputs["r2_buckets"] = buckets
	if len(c.Queues) > 0 {
		qids := pulumi.StringMap{}
		for name, q := range c.Queues {
			qids[name] = q.QueueId
		}
		outputs["queue_ids"] = qids
	}
	ctx.Export(pr.Name, outputs)
	return c, ctx.RegisterResourceOutputs(c, outputs)
}

// bindings turns the plan's bindings into the script's, pointing at the
// resources this component created.
func (c *Product) bindings(pr *plan.Product, secrets map[string]pulumi.StringOutput) ([]cloudflare.WorkersScriptBinding, error) {
	var out []cloudflare.WorkersScriptBinding
	for _, b := range pr.Bindings {
		arg := cloudflare.WorkersScriptBinding{Type: pulumi.String(b.Type), Name: pulumi.String(b.Name)}
		switch b.Type {
		case plan.PlainText:
			arg.Text = pulumi.String(b.Target)
		case plan.Secret:
			v, ok := secrets[b.Target]
			if !ok {
				return nil, fmt.Errorf("binding %s: no value for secret %s", b.Name, b.Target)
			}
			arg.Text = v // a Pulumi secret: RequireSecret marks it
		case plan.KV:
			ns := c.KVNamespaces[b.Name]
			if ns == nil {
				return nil, fmt.Errorf("binding %s: no KV namespace %q", b.Name, b.Target)
			}
			arg.NamespaceId = ns.ID().ToStringOutput()
		case plan.R2:
			bucket := c.Buckets[b.Name]
			if bucket == nil {
				return nil, fmt.Errorf("binding %s: no R2 bucket %q", b.Name, b.Target)
			}
			arg.BucketName = bucket.Name
		case plan.Queue:
			q := c.Queues[b.Target]
			if q == nil {
				return nil, fmt.Errorf("binding %s: no queue %q", b.Name, b.Target)
			}
			arg.QueueName = q.QueueName
		case plan.RateLimit:
			arg.NamespaceId = pulumi.String(b.Target)
			arg.Simple = &cloudflare.WorkersScriptBindingSimple{Limit: pulumi.Float64(float64(b.Limit)), Period: pulumi.Int(b.Period)}
		case plan.Analytics:
			arg.Dataset = pulumi.String(b.Target)
		default:
			return nil, fmt.Errorf("binding %s: type %q is not supported", b.Name, b.Type)
		}
		out = append(out, arg)
	}
	return out, nil
}
