package main

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/zerocost/zerocost/infra/cloudflare"
	"github.com/zerocost/zerocost/internal/outputs"
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

	Script  *cloudflare.WorkersScript
	Buckets map[string]*cloudflare.R2Bucket // by binding
	Queues  map[string]*cloudflare.Queue    // by queue name
	// KVNamespaces are the product's KV namespaces by title (with access
	// keys, its customer keys).
	KVNamespaces map[string]*cloudflare.WorkersKvNamespace
	Consumers    []*cloudflare.QueueConsumer
	Workflows    []*cloudflare.Workflow
	// Shared are the stack's resources the product binds (the spend database).
	Shared *Shared

	// Outputs resolves to the product's outputs.Product, which the program
	// exports under the product's name.
	Outputs pulumi.Output
}

// NewProduct creates the product's resources from its plan entry. code is the
// bundled Worker; secrets maps config keys to their (secret) values.
func NewProduct(ctx *pulumi.Context, p *plan.Plan, pr *plan.Product, code string, secrets map[string]pulumi.StringOutput, shared *Shared, opts ...pulumi.ResourceOption) (*Product, error) {
	token, ok := componentTypes[pr.Pattern]
	if !ok {
		return nil, fmt.Errorf("no component for pattern %q", pr.Pattern)
	}
	c := &Product{
		Buckets: map[string]*cloudflare.R2Bucket{},
		Queues:  map[string]*cloudflare.Queue{},
		Shared:  shared,

		KVNamespaces: map[string]*cloudflare.WorkersKvNamespace{},
	}
	if err := ctx.RegisterComponentResource(token, pr.Name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	account := pulumi.String(p.AccountID)

	if err := c.newStorage(ctx, p, pr, account, parent); err != nil {
		return nil, err
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
	if err := c.newWorkflows(ctx, account, pr, parent, scriptDep); err != nil {
		return nil, err
	}

	if err := c.newConsumers(ctx, account, pr, parent); err != nil {
		return nil, err
	}
	if err := newEntrypoints(ctx, account, pr, script, parent, scriptDep); err != nil {
		return nil, err
	}

	c.Outputs = c.outputs(pr)
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"outputs": c.Outputs})
}

// newStorage creates the product's R2 buckets (with their lifecycle rules),
// queues and KV namespaces. Data, the buckets' objects and the customer keys
// in KV, survives `pulumi destroy` unless the stack sets zerocost:retainData
// false.
func (c *Product) newStorage(ctx *pulumi.Context, p *plan.Plan, pr *plan.Product, account pulumi.StringInput, parent pulumi.ResourceOption) error {
	retain := pulumi.RetainOnDelete(p.RetainData)
	err := createEach(pr.R2Buckets, c.Buckets, func(b plan.R2Bucket) (string, *cloudflare.R2Bucket, error) {
		bucket, err := cloudflare.NewR2Bucket(ctx, b.Name, &cloudflare.R2BucketArgs{AccountId: account, Name: pulumi.String(b.Name)}, parent, retain)
		if err == nil {
			err = newLifecycle(ctx, b.Name, account, bucket, pr.Lifecycle, parent)
		}
		return b.Binding, bucket, err
	})
	if err != nil {
		return err
	}
	err = createEach(pr.Queues, c.Queues, func(q plan.QueueInfo) (string, *cloudflare.Queue, error) {
		queue, err := cloudflare.NewQueue(ctx, q.Name, &cloudflare.QueueArgs{AccountId: account, QueueName: pulumi.String(q.Name)}, parent)
		return q.Name, queue, err
	})
	if err != nil {
		return err
	}
	return createEach(pr.KVNamespaces, c.KVNamespaces, func(ns plan.KVNamespace) (string, *cloudflare.WorkersKvNamespace, error) {
		kv, err := cloudflare.NewWorkersKvNamespace(ctx, ns.Title, &cloudflare.WorkersKvNamespaceArgs{AccountId: account, Title: pulumi.String(ns.Title)}, parent, retain)
		return ns.Title, kv, err
	})
}

// createEach creates one resource per plan item with create and keeps it in
// into under the key create gives; the first failure ends it.
func createEach[I any, R any](items []I, into map[string]R, create func(I) (string, R, error)) error {
	for _, it := range items {
		key, r, err := create(it)
		if err != nil {
			return err
		}
		into[key] = r
	}
	return nil
}

// newConsumers attaches the product's Worker to its queues as their consumer.
func (c *Product) newConsumers(ctx *pulumi.Context, account pulumi.StringInput, pr *plan.Product, parent pulumi.ResourceOption) error {
	script := c.Script
	for _, cs := range pr.Consumers {
		queue := c.Queues[cs.Queue]
		if queue == nil {
			return fmt.Errorf("consumer of %q: the product declares no such queue", cs.Queue)
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
				return fmt.Errorf("consumer of %q: dead-letter queue %q is not one of the product's queues", cs.Queue, cs.DeadLetterQueue)
			}
			// The API takes the dead-letter queue by name; depending on the
			// resource makes sure it exists first.
			args.DeadLetterQueue = dlq.QueueName
			deps = append(deps, dlq)
		}
		consumer, err := cloudflare.NewQueueConsumer(ctx, cs.Queue+"-consumer", args, parent, pulumi.DependsOn(deps))
		if err != nil {
			return err
		}
		c.Consumers = append(c.Consumers, consumer)
	}
	return nil
}

// newEntrypoints creates what sends traffic to the Worker: its routes and
// custom domains, its workers.dev subdomain and its cron triggers.
func newEntrypoints(ctx *pulumi.Context, account pulumi.StringInput, pr *plan.Product, script *cloudflare.WorkersScript, parent, scriptDep pulumi.ResourceOption) error {
	for i, r := range pr.Routes {
		name := fmt.Sprintf("%s-route-%d", pr.Script, i)
		if r.CustomDomain {
			if _, err := cloudflare.NewWorkersCustomDomain(ctx, name, &cloudflare.WorkersCustomDomainArgs{
				AccountId: account,
				Hostname:  pulumi.String(r.Pattern),
				Service:   script.ScriptName,
				ZoneId:    pulumi.String(r.ZoneID),
			}, parent, scriptDep); err != nil {
				return err
			}
			continue
		}
		if _, err := cloudflare.NewWorkersRoute(ctx, name, &cloudflare.WorkersRouteArgs{
			ZoneId:  pulumi.String(r.ZoneID),
			Pattern: pulumi.String(r.Pattern),
			Script:  script.ScriptName,
		}, parent, scriptDep); err != nil {
			return err
		}
	}
	if pr.WorkersDev {
		if _, err := cloudflare.NewWorkersScriptSubdomain(ctx, pr.Script+"-workers-dev", &cloudflare.WorkersScriptSubdomainArgs{
			AccountId:  account,
			ScriptName: script.ScriptName,
			Enabled:    pulumi.Bool(true),
		}, parent, scriptDep); err != nil {
			return err
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
			return err
		}
	}
	return nil
}

// outputs builds the product's outputs.Product from the ids and names of the
// resources it created.
func (c *Product) outputs(pr *plan.Product) pulumi.Output {
	buckets, queueIDs := pulumi.StringMap{}, pulumi.StringMap{}
	for binding, b := range c.Buckets {
		buckets[binding] = b.Name
	}
	for name, q := range c.Queues {
		queueIDs[name] = q.QueueId
	}
	kvIDs := pulumi.StringMap{}
	for _, ns := range pr.KVNamespaces {
		if kv := c.KVNamespaces[ns.Title]; kv != nil {
			kvIDs[ns.Binding] = kv.ID().ToStringOutput()
		}
	}
	databases := pulumi.StringMap{}
	for _, b := range pr.Bindings {
		if b.Type == plan.D1 {
			if db := c.Shared.Databases[b.Target]; db != nil {
				databases[b.Name] = db.Uuid
			}
		}
	}
	return pulumi.All(c.Script.ScriptName, buckets, queueIDs, databases, kvIDs).ApplyT(func(v []any) outputs.Product {
		out := outputs.Product{Pattern: pr.Pattern, Script: v[0].(string), URL: pr.URL,
			R2Buckets: v[1].(map[string]string)}
		if q := v[2].(map[string]string); len(q) > 0 {
			out.QueueIDs = q
		}
		if d := v[3].(map[string]string); len(d) > 0 {
			out.D1DatabaseIDs = d
		}
		if k := v[4].(map[string]string); len(k) > 0 {
			out.KVNamespaceIDs = k
		}
		return out
	})
}

// bindings turns the plan's bindings into the script's, pointing at the
// resources this component created.
func (c *Product) bindings(pr *plan.Product, secrets map[string]pulumi.StringOutput) ([]cloudflare.WorkersScriptBinding, error) {
	var out []cloudflare.WorkersScriptBinding
	for _, b := range pr.Bindings {
		set, ok := bindingArgs[b.Type]
		if !ok {
			return nil, fmt.Errorf("binding %s: type %q is not supported", b.Name, b.Type)
		}
		arg := cloudflare.WorkersScriptBinding{Type: pulumi.String(string(b.Type)), Name: pulumi.String(b.Name)}
		if err := set(bindingArg{c: c, b: b, secrets: secrets, arg: &arg}); err != nil {
			return nil, fmt.Errorf("binding %s: %w", b.Name, err)
		}
		out = append(out, arg)
	}
	return out, nil
}

// newWorkflows creates the product's Workflows once its script exists (the
// API binds a class the script exports; the script's binding names the
// Workflow by name, so it needs no output of it).
func (c *Product) newWorkflows(ctx *pulumi.Context, account pulumi.StringInput, pr *plan.Product, opts ...pulumi.ResourceOption) error {
	for _, b := range pr.Bindings {
		if b.Type != plan.Workflow {
			continue
		}
		wf, err := cloudflare.NewWorkflow(ctx, b.Target, &cloudflare.WorkflowArgs{
			AccountId:    account,
			WorkflowName: pulumi.String(b.Target),
			ClassName:    pulumi.String(b.Class),
			ScriptName:   c.Script.ScriptName,
		}, opts...)
		if err != nil {
			return err
		}
		c.Workflows = append(c.Workflows, wf)
	}
	return nil
}

// bindingArg is one binding being turned into the script's.
type bindingArg struct {
	c       *Product
	b       plan.Binding
	secrets map[string]pulumi.StringOutput
	arg     *cloudflare.WorkersScriptBinding
}

// created is the resource of the component the binding points at.
func created[R any](in bindingArg, byKey map[string]*R, key string) (*R, error) {
	r := byKey[key]
	if r == nil {
		info, _ := in.b.Type.Info()
		return nil, fmt.Errorf("no %s %q", info.Resource, in.b.Target)
	}
	return r, nil
}

// bindingArgs sets a script binding's target, per kind (plan.Kinds); each
// sets the provider property of the kind's API field (plan.KindInfo.Field).
// TestEveryKindHasPulumiArgs fails while a kind has no entry.
var bindingArgs = map[plan.Kind]func(in bindingArg) error{
	plan.PlainText: func(in bindingArg) error {
		in.arg.Text = pulumi.String(in.b.Target)
		return nil
	},
	plan.Secret: func(in bindingArg) error {
		v, ok := in.secrets[in.b.Target]
		if !ok {
			return fmt.Errorf("no value for secret %s", in.b.Target)
		}
		in.arg.Text = v // a Pulumi secret: RequireSecret marks it
		return nil
	},
	plan.R2: func(in bindingArg) error {
		bucket, err := created(in, in.c.Buckets, in.b.Name)
		if err == nil {
			in.arg.BucketName = bucket.Name
		}
		return err
	},
	plan.Queue: func(in bindingArg) error {
		q, err := created(in, in.c.Queues, in.b.Target)
		if err == nil {
			in.arg.QueueName = q.QueueName
		}
		return err
	},
	plan.RateLimit: func(in bindingArg) error {
		in.arg.NamespaceId = pulumi.String(in.b.Target)
		in.arg.Simple = &cloudflare.WorkersScriptBindingSimple{Limit: pulumi.Float64(float64(in.b.Limit)), Period: pulumi.Int(in.b.Period)}
		return nil
	},
	plan.Analytics: func(in bindingArg) error {
		in.arg.Dataset = pulumi.String(in.b.Target)
		return nil
	},
	plan.KV: func(in bindingArg) error {
		kv, err := created(in, in.c.KVNamespaces, in.b.Target)
		if err == nil {
			in.arg.NamespaceId = kv.ID().ToStringOutput()
		}
		return err
	},
	plan.Workflow: func(in bindingArg) error {
		in.arg.WorkflowName = pulumi.String(in.b.Target)
		in.arg.ClassName = pulumi.String(in.b.Class)
		return nil
	},
	plan.D1: func(in bindingArg) error {
		db, err := created(in, in.c.Shared.Databases, in.b.Target)
		if err == nil {
			in.arg.Id = db.Uuid
		}
		return err
	},
}

// newLifecycle gives the bucket its lifecycle rules: objects under each
// prefix are deleted once they are the rule's age (plan.Lifecycle). A stack
// with no rules still gets the resource with an empty list, so that removing
// rules is an update: the provider's Delete sends no request and would leave
// the old rules on the bucket.
func newLifecycle(ctx *pulumi.Context, name string, account pulumi.StringInput, bucket *cloudflare.R2Bucket, rules []plan.LifecycleRule, opts ...pulumi.ResourceOption) error {
	args := &cloudflare.R2BucketLifecycleArgs{AccountId: account, BucketName: bucket.Name, Rules: []cloudflare.R2BucketLifecycleRule{}}
	for _, r := range rules {
		args.Rules = append(args.Rules, cloudflare.R2BucketLifecycleRule{
			Id:         pulumi.String(r.ID),
			Enabled:    pulumi.Bool(true),
			Conditions: &cloudflare.R2BucketLifecycleRuleConditions{Prefix: pulumi.String(r.Prefix)},
			DeleteObjectsTransition: &cloudflare.R2BucketLifecycleRuleDeleteObjects{
				Condition: &cloudflare.R2BucketLifecycleCondition{Type: pulumi.String("Age"), MaxAge: pulumi.Int(r.MaxAgeSeconds())},
			},
		})
	}
	_, err := cloudflare.NewR2BucketLifecycle(ctx, name+"-lifecycle", args, opts...)
	return err
}
