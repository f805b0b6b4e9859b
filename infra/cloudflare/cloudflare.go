// Package cloudflare is the slim, typed part of the Pulumi Cloudflare provider
// that zerocost creates: R2 buckets and their lifecycle rules, queues and
// consumers, a D1 database, KV namespaces, Worker scripts with their
// bindings, Workflows, workers.dev subdomains, routes, custom domains and
// cron triggers.
//
// The provider's generated Go SDK (github.com/pulumi/pulumi-cloudflare/sdk/v6)
// is one package of about 22,000 types whose cold compile takes minutes and
// ~16 GB of memory. This package registers the same resources by their type
// tokens with args and state structs of its own, so infra/ builds like an
// empty Pulumi program. The engine still loads the real provider plugin,
// pinned by ProviderVersion, and the property names are the provider's
// (pulumi:"..." tags). schema.json beside this file is the provider's own
// schema filtered to these resources; TestStructsMatchSchema checks every
// struct against it, and TestSchemaMatchesPlugin checks the file against the
// plugin when it is installed. docs/design.md ("The slim Cloudflare package")
// has the upgrade path.
package cloudflare

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ProviderVersion is the pulumi-resource-cloudflare version every resource
// asks the engine for; schema.json was read from it.
const ProviderVersion = "6.18.0"

// Resource type tokens, exactly the provider's.
const (
	TokenR2Bucket               = "cloudflare:index/r2Bucket:R2Bucket"
	TokenR2BucketLifecycle      = "cloudflare:index/r2BucketLifecycle:R2BucketLifecycle"
	TokenQueue                  = "cloudflare:index/queue:Queue"
	TokenQueueConsumer          = "cloudflare:index/queueConsumer:QueueConsumer"
	TokenWorkersScript          = "cloudflare:index/workersScript:WorkersScript"
	TokenWorkersScriptSubdomain = "cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain"
	TokenWorkersRoute           = "cloudflare:index/workersRoute:WorkersRoute"
	TokenWorkersCustomDomain    = "cloudflare:index/workersCustomDomain:WorkersCustomDomain"
	TokenWorkersCronTrigger     = "cloudflare:index/workersCronTrigger:WorkersCronTrigger"
	TokenD1Database             = "cloudflare:index/d1Database:D1Database"
	TokenWorkersKvNamespace     = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"
)

// Spec ties a resource token to its args and state structs and to the aliases
// the provider's schema declares for it (the generated SDK adds them too, so
// stacks created with it keep their resources).
type Spec struct {
	Token   string
	Args    reflect.Type
	State   reflect.Type
	Aliases []string
}

// Resources lists every resource this package registers.
var Resources = []Spec{
	{TokenR2Bucket, reflect.TypeFor[R2BucketArgs](), reflect.TypeFor[R2Bucket](), nil},
	{TokenR2BucketLifecycle, reflect.TypeFor[R2BucketLifecycleArgs](), reflect.TypeFor[R2BucketLifecycle](), nil},
	{TokenQueue, reflect.TypeFor[QueueArgs](), reflect.TypeFor[Queue](), nil},
	{TokenQueueConsumer, reflect.TypeFor[QueueConsumerArgs](), reflect.TypeFor[QueueConsumer](), nil},
	{TokenWorkersScript, reflect.TypeFor[WorkersScriptArgs](), reflect.TypeFor[WorkersScript](), []string{"cloudflare:index/workerScript:WorkerScript"}},
	{TokenWorkersScriptSubdomain, reflect.TypeFor[WorkersScriptSubdomainArgs](), reflect.TypeFor[WorkersScriptSubdomain](), nil},
	{TokenWorkersRoute, reflect.TypeFor[WorkersRouteArgs](), reflect.TypeFor[WorkersRoute](), nil},
	{TokenWorkersCustomDomain, reflect.TypeFor[WorkersCustomDomainArgs](), reflect.TypeFor[WorkersCustomDomain](), []string{"cloudflare:index/workerDomain:WorkerDomain"}},
	{TokenWorkersCronTrigger, reflect.TypeFor[WorkersCronTriggerArgs](), reflect.TypeFor[WorkersCronTrigger](), []string{"cloudflare:index/workerCronTrigger:WorkerCronTrigger"}},
	{TokenD1Database, reflect.TypeFor[D1DatabaseArgs](), reflect.TypeFor[D1Database](), nil},
	{TokenWorkersKvNamespace, reflect.TypeFor[WorkersKvNamespaceArgs](), reflect.TypeFor[WorkersKvNamespace](), nil},
	{TokenWorkflow, reflect.TypeFor[WorkflowArgs](), reflect.TypeFor[Workflow](), nil},
}

func specOf(token string) Spec {
	for _, s := range Resources {
		if s.Token == token {
			return s
		}
	}
	panic("cloudflare: no spec for " + token)
}

// create registers a resource of type T (a state struct) with register.
func create[T any, PT interface {
	*T
	pulumi.CustomResource
}](ctx *pulumi.Context, token, name string, args pulumi.Input, opts []pulumi.ResourceOption) (*T, error) {
	r := PT(new(T))
	if err := register(ctx, token, name, args, r, opts); err != nil {
		return nil, err
	}
	return r, nil
}

// register checks the args' required fields, then registers the resource with
// the provider version pinned and the schema's aliases.
func register(ctx *pulumi.Context, token, name string, args pulumi.Input, state pulumi.CustomResource, opts []pulumi.ResourceOption) error {
	if err := checkRequired(args); err != nil {
		return fmt.Errorf("%s %s: %w", token, name, err)
	}
	spec := specOf(token)
	all := []pulumi.ResourceOption{pulumi.Version(ProviderVersion)}
	if len(spec.Aliases) > 0 {
		aliases := make([]pulumi.Alias, len(spec.Aliases))
		for i, a := range spec.Aliases {
			aliases[i] = pulumi.Alias{Type: pulumi.String(a)}
		}
		all = append(all, pulumi.Aliases(aliases))
	}
	return ctx.RegisterResource(token, name, args, state, append(all, opts...)...)
}

// checkRequired fails when a field whose tag is not ",optional" is nil, as the
// generated SDK's constructors do ("invalid value for required argument"); it
// looks into nested objects and lists of objects too.
func checkRequired(args any) error {
	v := reflect.ValueOf(args)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return fmt.Errorf("missing one or more required arguments")
		}
		v = v.Elem()
	}
	return checkStruct(v, "")
}

func checkStruct(v reflect.Value, path string) error {
	t := v.Type()
	for i := range t.NumField() {
		tag, optional := ParseTag(t.Field(i).Tag)
		if tag == "" {
			continue
		}
		f, name := v.Field(i), path+tag
		switch f.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Slice:
			if f.IsNil() {
				if optional {
					continue
				}
				return fmt.Errorf("invalid value for required argument %q", name)
			}
		}
		switch {
		case f.Kind() == reflect.Pointer && f.Elem().Kind() == reflect.Struct:
			if err := checkStruct(f.Elem(), name+"."); err != nil {
				return err
			}
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
			for j := range f.Len() {
				if err := checkStruct(f.Index(j), fmt.Sprintf("%s[%d].", name, j)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// ParseTag returns a field's pulumi property name and whether it is optional.
func ParseTag(tag reflect.StructTag) (name string, optional bool) {
	parts := strings.Split(tag.Get("pulumi"), ",")
	for _, p := range parts[1:] {
		if p == "optional" {
			optional = true
		}
	}
	return parts[0], optional
}

// element gives the args struct T that embeds it the ElementType method of
// pulumi.Input, naming T itself, as the generated SDK's args types do. It has
// no pulumi tag, so the SDK's marshalling (and checkRequired) pass it over:
// the properties are exactly T's tagged fields.
type element[T any] struct{}

func (element[T]) ElementType() reflect.Type { return reflect.TypeFor[T]() }

// R2Bucket is an R2 bucket; its ID is the bucket name.
type R2Bucket struct {
	pulumi.CustomResourceState

	AccountId pulumi.StringOutput `pulumi:"accountId"`
	Name      pulumi.StringOutput `pulumi:"name"`
	Location  pulumi.StringOutput `pulumi:"location"`
}

type R2BucketArgs struct {
	element[R2BucketArgs]

	AccountId pulumi.StringInput `pulumi:"accountId"`
	Name      pulumi.StringInput `pulumi:"name"`
	// Location is a location hint (apac, eeur, enam, weur, wnam, oc).
	Location pulumi.StringInput `pulumi:"location,optional"`
}

func NewR2Bucket(ctx *pulumi.Context, name string, args *R2BucketArgs, opts ...pulumi.ResourceOption) (*R2Bucket, error) {
	return create[R2Bucket](ctx, TokenR2Bucket, name, args, opts)
}

// R2BucketLifecycle is the full list of a bucket's object lifecycle rules.
// The provider's Delete sends no request (the rules stay on the bucket), so
// turning expiry off is an update to fewer rules, never a delete.
type R2BucketLifecycle struct {
	pulumi.CustomResourceState

	AccountId  pulumi.StringOutput `pulumi:"accountId"`
	BucketName pulumi.StringOutput `pulumi:"bucketName"`
}

type R2BucketLifecycleArgs struct {
	element[R2BucketLifecycleArgs]

	AccountId  pulumi.StringInput      `pulumi:"accountId"`
	BucketName pulumi.StringInput      `pulumi:"bucketName"`
	Rules      []R2BucketLifecycleRule `pulumi:"rules,optional"`
}

// R2BucketLifecycleRule deletes the objects under Conditions.Prefix once they
// are DeleteObjectsTransition's age old.
type R2BucketLifecycleRule struct {
	Id                      pulumi.StringInput                  `pulumi:"id"`
	Enabled                 pulumi.BoolInput                    `pulumi:"enabled"`
	Conditions              *R2BucketLifecycleRuleConditions    `pulumi:"conditions"`
	DeleteObjectsTransition *R2BucketLifecycleRuleDeleteObjects `pulumi:"deleteObjectsTransition,optional"`
}

type R2BucketLifecycleRuleConditions struct {
	Prefix pulumi.StringInput `pulumi:"prefix"`
}

type R2BucketLifecycleRuleDeleteObjects struct {
	Condition *R2BucketLifecycleCondition `pulumi:"condition,optional"`
}

// R2BucketLifecycleCondition: Type "Age" with MaxAge in seconds (or "Date"
// with an RFC 3339 date, which zerocost does not use).
type R2BucketLifecycleCondition struct {
	Type   pulumi.StringInput `pulumi:"type"`
	MaxAge pulumi.IntInput    `pulumi:"maxAge,optional"`
}

func NewR2BucketLifecycle(ctx *pulumi.Context, name string, args *R2BucketLifecycleArgs, opts ...pulumi.ResourceOption) (*R2BucketLifecycle, error) {
	return create[R2BucketLifecycle](ctx, TokenR2BucketLifecycle, name, args, opts)
}

// Queue is a Cloudflare queue. Consumers refer to it by QueueId, bindings and
// dead-letter settings by QueueName.
type Queue struct {
	pulumi.CustomResourceState

	AccountId pulumi.StringOutput `pulumi:"accountId"`
	QueueId   pulumi.StringOutput `pulumi:"queueId"`
	QueueName pulumi.StringOutput `pulumi:"queueName"`
}

type QueueArgs struct {
	element[QueueArgs]

	AccountId pulumi.StringInput `pulumi:"accountId"`
	QueueName pulumi.StringInput `pulumi:"queueName"`
}

func NewQueue(ctx *pulumi.Context, name string, args *QueueArgs, opts ...pulumi.ResourceOption) (*Queue, error) {
	return create[Queue](ctx, TokenQueue, name, args, opts)
}

// QueueConsumer attaches a Worker (Type "worker") to a queue.
type QueueConsumer struct {
	pulumi.CustomResourceState

	ConsumerId pulumi.StringOutput `pulumi:"consumerId"`
	QueueId    pulumi.StringOutput `pulumi:"queueId"`
	ScriptName pulumi.StringOutput `pulumi:"scriptName"`
}

type QueueConsumerArgs struct {
	element[QueueConsumerArgs]

	AccountId  pulumi.StringInput `pulumi:"accountId"`
	QueueId    pulumi.StringInput `pulumi:"queueId"`
	Type       pulumi.StringInput `pulumi:"type"`
	ScriptName pulumi.StringInput `pulumi:"scriptName,optional"`
	// DeadLetterQueue is the dead-letter queue's name, not its id.
	DeadLetterQueue pulumi.StringInput     `pulumi:"deadLetterQueue,optional"`
	Settings        *QueueConsumerSettings `pulumi:"settings,optional"`
}

// QueueConsumerSettings: MaxWaitTimeMs is milliseconds (wrangler's
// max_batch_timeout is seconds), RetryDelay seconds.
type QueueConsumerSettings struct {
	BatchSize      pulumi.Float64Input `pulumi:"batchSize,optional"`
	MaxConcurrency pulumi.Float64Input `pulumi:"maxConcurrency,optional"`
	MaxRetries     pulumi.Float64Input `pulumi:"maxRetries,optional"`
	MaxWaitTimeMs  pulumi.Float64Input `pulumi:"maxWaitTimeMs,optional"`
	RetryDelay     pulumi.Float64Input `pulumi:"retryDelay,optional"`
}

func NewQueueConsumer(ctx *pulumi.Context, name string, args *QueueConsumerArgs, opts ...pulumi.ResourceOption) (*QueueConsumer, error) {
	return create[QueueConsumer](ctx, TokenQueueConsumer, name, args, opts)
}

// WorkersScript is a Worker: its ES module code and bindings, uploaded in one
// request. Its ID is the script name.
type WorkersScript struct {
	pulumi.CustomResourceState

	AccountId  pulumi.StringOutput `pulumi:"accountId"`
	ScriptName pulumi.StringOutput `pulumi:"scriptName"`
	Etag       pulumi.StringOutput `pulumi:"etag"`
}

type WorkersScriptArgs struct {
	element[WorkersScriptArgs]

	AccountId          pulumi.StringInput      `pulumi:"accountId"`
	ScriptName         pulumi.StringInput      `pulumi:"scriptName"`
	Content            pulumi.StringInput      `pulumi:"content,optional"`
	MainModule         pulumi.StringInput      `pulumi:"mainModule,optional"`
	CompatibilityDate  pulumi.StringInput      `pulumi:"compatibilityDate,optional"`
	CompatibilityFlags pulumi.StringArrayInput `pulumi:"compatibilityFlags,optional"`
	Bindings           []WorkersScriptBinding  `pulumi:"bindings,optional"`
}

// WorkersScriptBinding is one binding; which fields apply depends on Type
// (r2_bucket: BucketName; queue: QueueName;
// plain_text and secret_text: Text; ratelimit: NamespaceId and Simple;
// analytics_engine: Dataset; d1: Id, the database's uuid; workflow:
// WorkflowName and ClassName). Text is secret in the provider's schema.
type WorkersScriptBinding struct {
	Name        pulumi.StringInput          `pulumi:"name"`
	Type        pulumi.StringInput          `pulumi:"type"`
	Text        pulumi.StringInput          `pulumi:"text,optional"`
	NamespaceId pulumi.StringInput          `pulumi:"namespaceId,optional"`
	BucketName  pulumi.StringInput          `pulumi:"bucketName,optional"`
	QueueName   pulumi.StringInput          `pulumi:"queueName,optional"`
	Dataset     pulumi.StringInput          `pulumi:"dataset,optional"`
	Id          pulumi.StringInput          `pulumi:"id,optional"`
	Simple      *WorkersScriptBindingSimple `pulumi:"simple,optional"`
	// WorkflowName and ClassName: a workflow binding's Workflow and the
	// class of this script it runs.
	WorkflowName pulumi.StringInput `pulumi:"workflowName,optional"`
	ClassName    pulumi.StringInput `pulumi:"className,optional"`
}

// WorkersScriptBindingSimple is a ratelimit binding's limit per Period
// seconds (10 or 60).
type WorkersScriptBindingSimple struct {
	Limit  pulumi.Float64Input `pulumi:"limit"`
	Period pulumi.IntInput     `pulumi:"period"`
}

func NewWorkersScript(ctx *pulumi.Context, name string, args *WorkersScriptArgs, opts ...pulumi.ResourceOption) (*WorkersScript, error) {
	return create[WorkersScript](ctx, TokenWorkersScript, name, args, opts)
}

// D1Database is a D1 database; its ID (and Uuid) is the database's uuid,
// which a d1 binding names. Read replication is left off (the provider's
// default, disabled): every read goes to the one primary, so reads see every
// committed write.
type D1Database struct {
	pulumi.CustomResourceState

	AccountId pulumi.StringOutput `pulumi:"accountId"`
	Name      pulumi.StringOutput `pulumi:"name"`
	Uuid      pulumi.StringOutput `pulumi:"uuid"`
}

type D1DatabaseArgs struct {
	element[D1DatabaseArgs]

	AccountId pulumi.StringInput `pulumi:"accountId"`
	Name      pulumi.StringInput `pulumi:"name"`
	// PrimaryLocationHint places the primary (wnam, enam, weur, eeur, apac, oc).
	PrimaryLocationHint pulumi.StringInput `pulumi:"primaryLocationHint,optional"`
}

func NewD1Database(ctx *pulumi.Context, name string, args *D1DatabaseArgs, opts ...pulumi.ResourceOption) (*D1Database, error) {
	return create[D1Database](ctx, TokenD1Database, name, args, opts)
}

// WorkersKvNamespace is a Workers KV namespace; its ID is the namespace id,
// which a kv_namespace binding names.
type WorkersKvNamespace struct {
	pulumi.CustomResourceState

	AccountId pulumi.StringOutput `pulumi:"accountId"`
	Title     pulumi.StringOutput `pulumi:"title"`
}

type WorkersKvNamespaceArgs struct {
	element[WorkersKvNamespaceArgs]

	AccountId pulumi.StringInput `pulumi:"accountId"`
	Title     pulumi.StringInput `pulumi:"title"`
}

func NewWorkersKvNamespace(ctx *pulumi.Context, name string, args *WorkersKvNamespaceArgs, opts ...pulumi.ResourceOption) (*WorkersKvNamespace, error) {
	return create[WorkersKvNamespace](ctx, TokenWorkersKvNamespace, name, args, opts)
}

// WorkersScriptSubdomain turns a Worker's workers.dev route on or off.
type WorkersScriptSubdomain struct {
	pulumi.CustomResourceState

	Enabled pulumi.BoolOutput `pulumi:"enabled"`
}

type WorkersScriptSubdomainArgs struct {
	element[WorkersScriptSubdomainArgs]

	AccountId       pulumi.StringInput `pulumi:"accountId"`
	ScriptName      pulumi.StringInput `pulumi:"scriptName"`
	Enabled         pulumi.BoolInput   `pulumi:"enabled"`
	PreviewsEnabled pulumi.BoolInput   `pulumi:"previewsEnabled,optional"`
}

func NewWorkersScriptSubdomain(ctx *pulumi.Context, name string, args *WorkersScriptSubdomainArgs, opts ...pulumi.ResourceOption) (*WorkersScriptSubdomain, error) {
	return create[WorkersScriptSubdomain](ctx, TokenWorkersScriptSubdomain, name, args, opts)
}

// WorkersRoute sends a zone's requests matching Pattern to Script.
type WorkersRoute struct {
	pulumi.CustomResourceState

	Pattern pulumi.StringOutput `pulumi:"pattern"`
}

type WorkersRouteArgs struct {
	element[WorkersRouteArgs]

	ZoneId  pulumi.StringInput `pulumi:"zoneId"`
	Pattern pulumi.StringInput `pulumi:"pattern"`
	Script  pulumi.StringInput `pulumi:"script,optional"`
}

func NewWorkersRoute(ctx *pulumi.Context, name string, args *WorkersRouteArgs, opts ...pulumi.ResourceOption) (*WorkersRoute, error) {
	return create[WorkersRoute](ctx, TokenWorkersRoute, name, args, opts)
}

// WorkersCustomDomain serves a Worker on a hostname of a zone.
type WorkersCustomDomain struct {
	pulumi.CustomResourceState

	Hostname pulumi.StringOutput `pulumi:"hostname"`
}

type WorkersCustomDomainArgs struct {
	element[WorkersCustomDomainArgs]

	AccountId pulumi.StringInput `pulumi:"accountId"`
	Hostname  pulumi.StringInput `pulumi:"hostname"`
	Service   pulumi.StringInput `pulumi:"service"`
	ZoneId    pulumi.StringInput `pulumi:"zoneId,optional"`
}

func NewWorkersCustomDomain(ctx *pulumi.Context, name string, args *WorkersCustomDomainArgs, opts ...pulumi.ResourceOption) (*WorkersCustomDomain, error) {
	return create[WorkersCustomDomain](ctx, TokenWorkersCustomDomain, name, args, opts)
}

// WorkersCronTrigger is the full list of a Worker's cron schedules.
type WorkersCronTrigger struct {
	pulumi.CustomResourceState

	ScriptName pulumi.StringOutput `pulumi:"scriptName"`
}

type WorkersCronTriggerArgs struct {
	element[WorkersCronTriggerArgs]

	AccountId  pulumi.StringInput           `pulumi:"accountId"`
	ScriptName pulumi.StringInput           `pulumi:"scriptName"`
	Schedules  []WorkersCronTriggerSchedule `pulumi:"schedules"`
}

type WorkersCronTriggerSchedule struct {
	Cron pulumi.StringInput `pulumi:"cron"`
}

func NewWorkersCronTrigger(ctx *pulumi.Context, name string, args *WorkersCronTriggerArgs, opts ...pulumi.ResourceOption) (*WorkersCronTrigger, error) {
	return create[WorkersCronTrigger](ctx, TokenWorkersCronTrigger, name, args, opts)
}
