package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/zerocost/zerocost/infra/cloudflare"
	"github.com/zerocost/zerocost/internal/names"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan/plantest"
	"github.com/zerocost/zerocost/internal/stack"
	"github.com/zerocost/zerocost/internal/wrangler"
)

const apiKey = "sk-ant-test-key-never-in-clear"

// recorded is one resource the program registered with the mock engine.
type recorded struct {
	Type, Name, URN, Parent string
	Inputs                  resource.PropertyMap
	Retain                  bool
	Deps                    []string
}

type mocks struct {
	mu  sync.Mutex
	all []recorded
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	rec := recorded{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs}
	if rpc := args.RegisterRPC; rpc != nil {
		rec.Parent = rpc.GetParent()
		rec.Retain = rpc.GetRetainOnDelete()
		rec.Deps = rpc.GetDependencies()
	}
	m.mu.Lock()
	m.all = append(m.all, rec)
	m.mu.Unlock()
	outs := args.Inputs.Copy()
	id := args.Name + "-id"
	switch args.TypeToken {
	case "cloudflare:index/queue:Queue":
		id = "queue-id-" + args.Inputs["queueName"].StringValue()
		outs["queueId"] = resource.NewStringProperty(id)
	case "cloudflare:index/d1Database:D1Database":
		id = "d1-uuid-" + args.Inputs["name"].StringValue()
		outs["uuid"] = resource.NewStringProperty(id)
	}
	return id, outs, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func (m *mocks) byType(token string) []recorded {
	var out []recorded
	for _, r := range m.all {
		if r.Type == token {
			out = append(out, r)
		}
	}
	return out
}

// demoConfig is the demo stack's config as Pulumi hands it to the program,
// plus the API key as a secret.
func demoConfig(t *testing.T, edit func(map[string]string)) {
	t.Helper()
	data, err := os.ReadFile("../Pulumi.demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	vals, err := stack.ParseYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]string{}
	for k, v := range vals {
		cfg[stack.Namespace+":"+k] = v.Text
	}
	cfg["zerocost:anthropicApiKey"] = apiKey
	if edit != nil {
		edit(cfg)
	}
	b, _ := json.Marshal(cfg)
	t.Setenv(pulumi.EnvConfig, string(b))
	t.Setenv(pulumi.EnvConfigSecretKeys, `["zerocost:anthropicApiKey","zerocost:authToken"]`)
}

func runProgram(t *testing.T) (*mocks, error) {
	t.Helper()
	m := &mocks{}
	err := pulumi.RunErr(program, pulumi.WithMocks("zerocost", "demo", m))
	return m, err
}

func demoGraph(t *testing.T) *mocks {
	t.Helper()
	demoConfig(t, nil)
	m, err := runProgram(t)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	tR2        = "cloudflare:index/r2Bucket:R2Bucket"
	tQueue     = "cloudflare:index/queue:Queue"
	tConsumer  = "cloudflare:index/queueConsumer:QueueConsumer"
	tScript    = "cloudflare:index/workersScript:WorkersScript"
	tSubdomain = "cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain"
	tRoute     = "cloudflare:index/workersRoute:WorkersRoute"
	tD1        = "cloudflare:index/d1Database:D1Database"
	tWorkflow  = "cloudflare:index/workflow:Workflow"
)

// spendUUID is the mocks' uuid of the demo stack's spend database.
const spendUUID = "d1-uuid-zerocost-demo-spend"

func TestDemoResourceGraph(t *testing.T) {
	m := demoGraph(t)
	counts := map[string]int{}
	for _, r := range m.all {
		counts[r.Type]++
	}
	want := map[string]int{
		"zerocost:patterns:EventDrivenAgent": 2,
		"zerocost:patterns:AsyncPipeline":    1,
		"zerocost:patterns:EdgeCacheLayer":   1,
		tR2:                                  4, tQueue: 2, tConsumer: 2, tScript: 4, tSubdomain: 4,
		tD1:       1, // the stack's spend database, shared by the products
		tWorkflow: 2, // the event agents' (runner: workflow, the default)
	}
	for typ, n := range want {
		if counts[typ] != n {
			t.Errorf("%s: %d resources, want %d", typ, counts[typ], n)
		}
	}
	if counts[tRoute] != 0 {
		t.Errorf("the demo stack has no routes, got %d", counts[tRoute])
	}

	// Every Cloudflare resource but the stack's spend database is a child
	// of its product's component.
	components := map[string]string{} // URN suffix -> product
	for _, r := range m.all {
		if strings.HasPrefix(r.Type, "zerocost:patterns:") {
			components[r.Type+"::"+r.Name] = r.Name
		}
	}
	for _, r := range m.all {
		if !strings.HasPrefix(r.Type, "cloudflare:") {
			continue
		}
		if r.Type == tD1 {
			if r.Parent != "" && !strings.HasSuffix(r.Parent, "pulumi:pulumi:Stack::zerocost-demo") {
				t.Errorf("the spend database has parent %q, not the stack", r.Parent)
			}
			if r.Name != "zerocost-demo-spend" || r.Inputs["name"].StringValue() != "zerocost-demo-spend" {
				t.Errorf("spend database %s: %v", r.Name, r.Inputs)
			}
			continue
		}
		owner := ""
		for suffix, product := range components {
			if strings.HasSuffix(r.Parent, suffix) {
				owner = product
			}
		}
		if owner == "" {
			t.Errorf("%s %s has parent %q, not a product component", r.Type, r.Name, r.Parent)
			continue
		}
		if !strings.HasPrefix(r.Name, owner+"-") {
			t.Errorf("%s %s is parented to product %s", r.Type, r.Name, owner)
		}
	}

	// Data buckets, the spend database and the customer keys survive
	// `pulumi destroy` by default; nothing else is retained.
	for _, r := range m.all {
		if got, want := r.Retain, r.Type == tR2 || r.Type == tD1 || r.Type == cloudflare.TokenWorkersKvNamespace; got != want {
			t.Errorf("%s %s: retainOnDelete %v, want %v", r.Type, r.Name, got, want)
		}
	}
	for _, r := range m.byType(tScript) {
		if r.Inputs["mainModule"].StringValue() != "worker.js" || !strings.Contains(r.Inputs["content"].StringValue(), "export") {
			t.Errorf("script %s: main module or content wrong", r.Name)
		}
		if r.Inputs["accountId"].StringValue() != "0123456789abcdef0123456789abcdef" {
			t.Errorf("script %s: account %v", r.Name, r.Inputs["accountId"])
		}
	}
}

func TestQueueConsumersAndDLQ(t *testing.T) {
	m := demoGraph(t)
	consumers := map[string]recorded{}
	for _, r := range m.byType(tConsumer) {
		consumers[r.Inputs["queueId"].StringValue()] = r
	}
	main, ok := consumers["queue-id-email-worker-demo-jobs"]
	if !ok {
		t.Fatalf("no consumer on the job queue; consumers: %v", consumers)
	}
	s := main.Inputs["settings"].ObjectValue()
	for key, want := range map[string]float64{"batchSize": 1, "maxRetries": 3, "maxWaitTimeMs": 10000, "retryDelay": 30} {
		if got := s[resource.PropertyKey(key)].NumberValue(); got != want {
			t.Errorf("consumer %s = %v, want %v", key, got, want)
		}
	}
	if got := main.Inputs["deadLetterQueue"].StringValue(); got != "email-worker-demo-jobs-dlq" {
		t.Errorf("deadLetterQueue %q", got)
	}
	if main.Inputs["type"].StringValue() != "worker" || main.Inputs["scriptName"].StringValue() != "email-worker-demo" {
		t.Errorf("consumer type/script: %v %v", main.Inputs["type"], main.Inputs["scriptName"])
	}
	dlq, ok := consumers["queue-id-email-worker-demo-jobs-dlq"]
	if !ok {
		t.Fatal("the dead-letter queue has no consumer")
	}
	if dlq.Inputs.HasValue("deadLetterQueue") {
		t.Error("the dead-letter queue's consumer must not have a dead-letter queue of its own")
	}
}

// binding is a comparable form of one script binding.
type binding struct{ Type, Name, Target string }

func scriptBindings(t *testing.T, r recorded) (map[string]binding, map[string]resource.PropertyValue) {
	t.Helper()
	out := map[string]binding{}
	raw := map[string]resource.PropertyValue{}
	for _, v := range r.Inputs["bindings"].ArrayValue() {
		o := v.ObjectValue()
		b := binding{Type: o["type"].StringValue(), Name: o["name"].StringValue()}
		str := func(k string) string {
			pv := o[resource.PropertyKey(k)]
			if pv.IsSecret() {
				pv = pv.SecretValue().Element
			}
			if pv.IsString() {
				return pv.StringValue()
			}
			return ""
		}
		switch b.Type {
		case "r2_bucket":
			b.Target = str("bucketName")
		case "queue":
			b.Target = str("queueName")
		case "plain_text", "secret_text":
			b.Target = str("text")
		case "ratelimit":
			simple := o["simple"].ObjectValue()
			b.Target = fmt.Sprintf("%s %v/%v", str("namespaceId"), simple["limit"].NumberValue(), simple["period"].NumberValue())
		case "analytics_engine":
			b.Target = str("dataset")
		case "d1":
			b.Target = str("id")
		case "kv_namespace":
			b.Target = str("namespaceId")
		case "workflow":
			b.Target = str("workflowName") + " " + str("className")
		default:
			t.Errorf("%s: unexpected binding type %q", r.Name, b.Type)
		}
		if _, dup := out[b.Name]; dup {
			t.Errorf("%s: binding %s twice", r.Name, b.Name)
		}
		out[b.Name] = b
		raw[b.Name] = o["text"]
	}
	return out, raw
}

// Parity: each product's Pulumi bindings equal what its rendered wrangler.toml
// declares, read straight from the TOML (not through the plan).
func TestBindingsMatchRenderedWranglerConfig(t *testing.T) {
	m := demoGraph(t)
	p := plantest.DemoPlan(t)
	scripts := map[string]recorded{}
	for _, r := range m.byType(tScript) {
		scripts[r.Inputs["scriptName"].StringValue()] = r
	}
	for _, pr := range p.Products {
		wc, err := wrangler.Decode(pr.Name, pr.WranglerTOML)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]binding{}
		for k, v := range wc.Vars {
			want[k] = binding{"plain_text", k, v}
		}
		for _, b := range wc.R2Buckets {
			want[b.Binding] = binding{"r2_bucket", b.Binding, b.BucketName}
		}
		if wc.Queues != nil {
			for _, q := range wc.Queues.Producers {
				want[q.Binding] = binding{"queue", q.Binding, q.Queue}
			}
		}
		for _, rl := range wc.RateLimits {
			want[rl.Name] = binding{"ratelimit", rl.Name, fmt.Sprintf("%s %d/%d", rl.NamespaceID, rl.Simple.Limit, rl.Simple.Period)}
		}
		for _, ae := range wc.AnalyticsEngine {
			want[ae.Binding] = binding{"analytics_engine", ae.Binding, ae.Dataset}
		}
		// The TOML's database_id is a local stand-in: Pulumi binds the
		// database it created, by its uuid.
		for _, db := range wc.D1Databases {
			want[db.Binding] = binding{"d1", db.Binding, spendUUID}
		}
		// Likewise the KV namespace's id: the mocks' id of the namespace
		// titled <product>-<stack>-keys.
		for _, kv := range wc.KVNamespaces {
			want[kv.Binding] = binding{"kv_namespace", kv.Binding, names.KeysNamespace(pr.Name, p.Stack) + "-id"}
		}
		for _, wf := range wc.Workflows {
			want[wf.Binding] = binding{"workflow", wf.Binding, wf.Name + " " + wf.ClassName}
		}
		// Secrets are not in wrangler.toml; the header comment names them.
		want["ANTHROPIC_API_KEY"] = binding{"secret_text", "ANTHROPIC_API_KEY", apiKey}

		r, ok := scripts[wc.Name]
		if !ok {
			t.Fatalf("no WorkersScript named %s", wc.Name)
		}
		got, _ := scriptBindings(t, r)
		if !equal(got, want) {
			t.Errorf("%s: Pulumi bindings differ from wrangler.toml\n got: %v\nwant: %v", pr.Name, sorted(got), sorted(want))
		}
	}
}

// A Workflow runs the class its product's script exports, and is created
// once that script exists.
func TestWorkflowsFollowTheirScript(t *testing.T) {
	m := demoGraph(t)
	scripts := map[string]string{} // script name -> URN
	for _, r := range m.byType(tScript) {
		scripts[r.Inputs["scriptName"].StringValue()] = "$" + tScript + "::" + r.Name
	}
	for _, r := range m.byType(tWorkflow) {
		script := r.Inputs["scriptName"].StringValue()
		if r.Inputs["workflowName"].StringValue() != script+"-jobs" || r.Inputs["className"].StringValue() != "JobWorkflow" {
			t.Errorf("workflow %s: %v", r.Name, r.Inputs)
		}
		if urn, ok := scripts[script]; !ok || !slices.ContainsFunc(r.Deps, func(d string) bool { return strings.HasSuffix(d, urn) }) {
			t.Errorf("workflow %s does not depend on its script %s (deps %v)", r.Name, script, r.Deps)
		}
	}
}

func equal(a, b map[string]binding) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sorted(m map[string]binding) []binding {
	out := make([]binding, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// The API key reaches the Workers only as a Pulumi secret.
func TestAPIKeyStaysSecret(t *testing.T) {
	m := demoGraph(t)
	for _, r := range m.byType(tScript) {
		_, raw := scriptBindings(t, r)
		if !raw["ANTHROPIC_API_KEY"].IsSecret() {
			t.Errorf("%s: ANTHROPIC_API_KEY binding text is not a secret", r.Name)
		}
	}
	for _, r := range m.all {
		for k, v := range r.Inputs {
			if k == "bindings" {
				continue
			}
			if strings.Contains(fmt.Sprint(v), apiKey) {
				t.Errorf("%s %s: input %s holds the API key in clear", r.Type, r.Name, k)
			}
		}
	}
}

func TestRetainDataOptOut(t *testing.T) {
	demoConfig(t, func(c map[string]string) { c["zerocost:retainData"] = "false" })
	m, err := runProgram(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range append(m.byType(tR2), m.byType(tD1)...) {
		if r.Retain {
			t.Errorf("%s %s retained although retainData is false", r.Type, r.Name)
		}
	}
}

func TestRoutesAndCustomDomains(t *testing.T) {
	demoConfig(t, func(c map[string]string) {
		c["zerocost:products"] = `[
 {"name":"a","pattern":"edge-cache","route":{"pattern":"ai.example.com/ask*","zoneId":"0123456789abcdef0123456789abcdef"}},
 {"name":"b","pattern":"event-agent","customDomain":{"hostname":"jobs.example.com","zoneId":"0123456789abcdef0123456789abcdef"},"crons":["*/5 * * * *"]}]`
	})
	m, err := runProgram(t)
	if err != nil {
		t.Fatal(err)
	}
	routes := m.byType(tRoute)
	if len(routes) != 1 || routes[0].Inputs["pattern"].StringValue() != "ai.example.com/ask*" || routes[0].Inputs["script"].StringValue() != "a-demo" {
		t.Errorf("routes: %+v", routes)
	}
	domains := m.byType("cloudflare:index/workersCustomDomain:WorkersCustomDomain")
	if len(domains) != 1 || domains[0].Inputs["hostname"].StringValue() != "jobs.example.com" || domains[0].Inputs["service"].StringValue() != "b-demo" {
		t.Errorf("custom domains: %+v", domains)
	}
	if n := len(m.byType(tSubdomain)); n != 0 {
		t.Errorf("%d workers.dev subdomains for products with routes", n)
	}
	crons := m.byType("cloudflare:index/workersCronTrigger:WorkersCronTrigger")
	if len(crons) != 1 || crons[0].Inputs["schedules"].ArrayValue()[0].ObjectValue()["cron"].StringValue() != "*/5 * * * *" {
		t.Errorf("crons: %+v", crons)
	}
}

// A bad stack fails before any resource is registered, naming the field.
func TestBadConfigFailsBeforeAnyResource(t *testing.T) {
	cases := map[string]struct {
		edit func(map[string]string)
		want string
	}{
		"missing secret":     {func(c map[string]string) { delete(c, "zerocost:anthropicApiKey") }, "zerocost:anthropicApiKey: missing secret"},
		"missing account id": {func(c map[string]string) { delete(c, "zerocost:accountId") }, "zerocost:accountId: missing"},
		"unknown pattern":    {func(c map[string]string) { c["zerocost:products"] = `[{"name":"a","pattern":"chat"}]` }, "zerocost:products[0].pattern"},
		"duplicate name": {func(c map[string]string) {
			c["zerocost:products"] = `[{"name":"a","pattern":"edge-cache"},{"name":"a","pattern":"edge-cache"}]`
		}, "zerocost:products[1].name"},
		"unknown key": {func(c map[string]string) { c["zerocost:acountId"] = "x" }, "zerocost:acountId: unknown key"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			demoConfig(t, c.edit)
			m, err := runProgram(t)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			for _, r := range m.all {
				if strings.HasPrefix(r.Type, "cloudflare:") {
					t.Errorf("registered %s %s before failing", r.Type, r.Name)
				}
			}
		})
	}
}

// Every binding kind of the plan has Pulumi args.
func TestEveryKindHasPulumiArgs(t *testing.T) {
	plantest.CheckKinds(t, "infra/ (bindingArgs)", bindingArgs)
}

// The stack outputs: per product an outputs.Product of names and ids, the
// keys internal/outputs reads, and never a secret: neither the API key nor
// anything marked secret, nor the Worker's code.
func TestStackOutputs(t *testing.T) {
	demoConfig(t, nil)
	var mu sync.Mutex
	got := map[string]outputs.Product{}
	secret := map[string]bool{}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		products, err := newProducts(ctx)
		if err != nil {
			return err
		}
		for name, c := range products {
			pulumi.ToOutput(c.Outputs).ApplyT(func(v any) error {
				mu.Lock()
				defer mu.Unlock()
				got[name] = v.(outputs.Product)
				return nil
			})
			// The SDK marks an output secret when any input to it is.
			secret[name] = pulumi.IsSecret(c.Outputs)
		}
		return nil
	}, pulumi.WithMocks("zerocost", "demo", &mocks{}))
	if err != nil {
		t.Fatal(err)
	}
	p := plantest.DemoPlan(t)
	if len(got) != len(p.Products) {
		t.Fatalf("outputs of %d products, the plan has %d: %v", len(got), len(p.Products), got)
	}
	for _, pr := range p.Products {
		o := got[pr.Name]
		if secret[pr.Name] {
			t.Errorf("%s: the outputs are a secret", pr.Name)
		}
		js, _ := json.Marshal(o)
		if strings.Contains(string(js), apiKey) || strings.Contains(string(js), "export") {
			t.Errorf("%s: the outputs hold the API key or code: %s", pr.Name, js)
		}
		want := outputs.Product{Pattern: pr.Pattern, Script: pr.Script, URL: pr.URL,
			R2Buckets: map[string]string{}}
		for _, b := range pr.R2Buckets {
			want.R2Buckets[b.Binding] = b.Name
		}
		for _, q := range pr.Queues {
			if want.QueueIDs == nil {
				want.QueueIDs = map[string]string{}
			}
			want.QueueIDs[q.Name] = "queue-id-" + q.Name
		}
		want.D1DatabaseIDs = map[string]string{"SPEND": spendUUID}
		if pr.HasKeys() {
			want.KVNamespaceIDs = map[string]string{"KEYS": names.KeysNamespace(pr.Name, p.Stack) + "-id"}
		}
		if !reflect.DeepEqual(o, want) {
			t.Errorf("%s: outputs\n got %+v\nwant %+v", pr.Name, o, want)
		}
		// What `pulumi stack output --json` prints reads back as the same.
		back, err := outputs.Parse([]byte(`{"` + pr.Name + `": ` + string(js) + `}`))
		if err != nil || !reflect.DeepEqual(back[pr.Name], o) {
			t.Errorf("%s: read back %+v (%v)", pr.Name, back[pr.Name], err)
		}
	}
}

// The budget alert webhook reaches the Workers only as a Pulumi secret: the
// stack's secret for every product, a product's own token-free URL for
// that product; without a budget there is no spend database and no SPEND.
func TestBudgetWebhookAndSpendDatabase(t *testing.T) {
	const hook = "https://hooks.slack.com/services/T0/B0/secret-token-value"
	demoConfig(t, func(c map[string]string) {
		c["zerocost:budgetAlertWebhook"] = hook
		c["zerocost:products"] = `[{"name":"a","pattern":"edge-cache","settings":{"monthlyBudgetUsd":5,"budgetAlertWebhook":"http://127.0.0.1:8787/alerts"}},
 {"name":"b","pattern":"event-agent"}]`
	})
	t.Setenv(pulumi.EnvConfigSecretKeys, `["zerocost:anthropicApiKey","zerocost:budgetAlertWebhook"]`)
	m, err := runProgram(t)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.byType(tD1)); n != 1 {
		t.Fatalf("%d spend databases", n)
	}
	want := map[string]string{"a-demo": "http://127.0.0.1:8787/alerts", "b-demo": hook}
	for _, r := range m.byType(tScript) {
		got, raw := scriptBindings(t, r)
		name := r.Inputs["scriptName"].StringValue()
		if b := got["BUDGET_ALERT_WEBHOOK"]; b.Type != "secret_text" || b.Target != want[name] || !raw["BUDGET_ALERT_WEBHOOK"].IsSecret() {
			t.Errorf("%s: BUDGET_ALERT_WEBHOOK %+v (secret %v)", name, b, raw["BUDGET_ALERT_WEBHOOK"].IsSecret())
		}
		if b := got["SPEND"]; b.Type != "d1" || b.Target != spendUUID {
			t.Errorf("%s: SPEND %+v", name, b)
		}
		if got["MONTHLY_BUDGET_USD"].Target != map[string]string{"a-demo": "5", "b-demo": ""}[name] || got["STACK_BUDGET_USD"].Target != "60" {
			t.Errorf("%s: budgets %+v %+v", name, got["MONTHLY_BUDGET_USD"], got["STACK_BUDGET_USD"])
		}
	}
	for _, r := range m.all {
		for k, v := range r.Inputs {
			if k != "bindings" && strings.Contains(fmt.Sprint(v), "secret-token-value") {
				t.Errorf("%s %s: input %s holds the webhook in clear", r.Type, r.Name, k)
			}
		}
	}

	// No budget and no keys: no database, no SPEND.
	demoConfig(t, func(c map[string]string) {
		delete(c, "zerocost:monthlyBudgetUsd")
		c["zerocost:products"] = `[{"name":"a","pattern":"edge-cache","access":"public"}]`
	})
	m, err = runProgram(t)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.byType(tD1)); n != 0 {
		t.Errorf("%d spend databases without a budget or keys", n)
	}
	for _, r := range m.byType(tScript) {
		if got, _ := scriptBindings(t, r); got["SPEND"].Type != "" || got["BUDGET_ALERT_WEBHOOK"].Type != "" {
			t.Errorf("%s: budget bindings without a budget or keys", r.Name)
		}
	}

	// No budget, but keys (the default): the database and SPEND for the
	// customers' budgets, and no webhook.
	demoConfig(t, func(c map[string]string) {
		delete(c, "zerocost:monthlyBudgetUsd")
		c["zerocost:products"] = `[{"name":"a","pattern":"edge-cache"}]`
	})
	if m, err = runProgram(t); err != nil {
		t.Fatal(err)
	}
	if n := len(m.byType(tD1)); n != 1 {
		t.Errorf("%d spend databases for a keyed product, want 1", n)
	}
	for _, r := range m.byType(tScript) {
		if got, _ := scriptBindings(t, r); got["SPEND"].Type != "d1" || got["BUDGET_ALERT_WEBHOOK"].Type != "" {
			t.Errorf("%s: a keyed product: SPEND %+v, webhook %+v", r.Name, got["SPEND"], got["BUDGET_ALERT_WEBHOOK"])
		}
	}
}

// Every product of the demo has keys: one KV namespace each, titled
// <product>-<stack>-keys, parented to its component and kept on destroy as
// the data is (retainData).
func TestKeysNamespaces(t *testing.T) {
	m := demoGraph(t)
	p := plantest.DemoPlan(t)
	got := map[string]recorded{}
	for _, r := range m.byType(cloudflare.TokenWorkersKvNamespace) {
		got[r.Inputs["title"].StringValue()] = r
	}
	if len(got) != len(p.Products) {
		t.Errorf("%d KV namespaces, want one per product (%d): %v", len(got), len(p.Products), got)
	}
	for _, pr := range p.Products {
		r, ok := got[names.KeysNamespace(pr.Name, p.Stack)]
		if !ok {
			t.Errorf("%s: no KV namespace %s", pr.Name, names.KeysNamespace(pr.Name, p.Stack))
			continue
		}
		if r.Inputs["accountId"].StringValue() != p.AccountID || !r.Retain || !strings.HasSuffix(r.Parent, "::"+pr.Name) {
			t.Errorf("%s: namespace account %v retain %v parent %s", pr.Name, r.Inputs["accountId"], r.Retain, r.Parent)
		}
	}
}
