package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/golden"
	"github.com/zerocost/zerocost/internal/stack"
	"github.com/zerocost/zerocost/internal/stack/stacktest"
	"github.com/zerocost/zerocost/internal/wrangler"
)

const projectDir = "../.."

func demo(t *testing.T) (*stack.Config, *Plan) {
	t.Helper()
	cfg, err := stack.LoadFile(projectDir, "demo")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(cfg, projectDir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, p
}

// The demo stack renders to the golden configs and plan.
func TestDemoGolden(t *testing.T) {
	_, p := demo(t)
	if len(p.Products) != 4 {
		t.Fatalf("demo stack has %d products, want the seed's 4", len(p.Products))
	}
	for _, pr := range p.Products {
		golden.Check(t, pr.Name+".wrangler.toml", pr.WranglerTOML)
	}
	js, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "demo.plan.json", append(js, '\n'))
}

func TestDemoShape(t *testing.T) {
	_, p := demo(t)
	want := map[string]string{"sales-engine": "event-agent", "email-worker": "async-pipeline", "ai-relay": "edge-cache", "delivery-worker": "event-agent"}
	for name, pattern := range want {
		pr := p.Product(name)
		if pr == nil || pr.Pattern != pattern {
			t.Fatalf("product %s: got %+v, want pattern %s", name, pr, pattern)
		}
	}
	ew := p.Product("email-worker")
	if len(ew.Queues) != 2 || ew.Queues[0].DeadLetter || !ew.Queues[1].DeadLetter {
		t.Errorf("email-worker queues: %+v", ew.Queues)
	}
	if len(ew.Consumers) != 2 || ew.Consumers[0].DeadLetterQueue != "email-worker-demo-jobs-dlq" || ew.Consumers[0].BatchTimeoutSeconds != 10 {
		t.Errorf("email-worker consumers: %+v", ew.Consumers)
	}
	se := p.Product("sales-engine")
	if se.Hooks == "" || !strings.Contains(se.Var("SYSTEM_PROMPT"), "qualify inbound sales leads") {
		t.Errorf("sales-engine hooks %q, prompt %q", se.Hooks, se.Var("SYSTEM_PROMPT"))
	}
	for _, pr := range p.Products {
		if b := pr.Binding("ANTHROPIC_API_KEY"); b == nil || b.Type != Secret || b.Target != "zerocost:anthropicApiKey" {
			t.Errorf("%s: api key binding %+v", pr.Name, b)
		}
		if b := pr.Binding("RATE_LIMITER"); b == nil || b.Limit != 60 || b.Period != 60 {
			t.Errorf("%s: rate limiter %+v", pr.Name, b)
		}
	}
	if got := p.MissingSecrets(); len(got) != 1 || got[0] != "zerocost:anthropicApiKey" {
		t.Errorf("missing secrets: %v", got)
	}
}

// mutate renders the demo's async pipeline, lets f edit the TOML, and checks
// the plan built from it.
func mutate(t *testing.T, product string, f func(string) string) error {
	t.Helper()
	cfg, p := demo(t)
	var sp stack.Product
	for _, x := range cfg.Products {
		if x.Name == product {
			sp = x
		}
	}
	toml := f(string(p.Product(product).WranglerTOML))
	wc, err := wrangler.Decode(product+"/wrangler.toml", []byte(toml))
	if err != nil {
		return err
	}
	pr, err := FromWrangler(cfg, sp, wc)
	if err != nil {
		return err
	}
	*p.Product(product) = *pr
	if errs := p.Check(); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// replaceOnce is an edit of a rendered TOML that replaces the first old with new.
func replaceOnce(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}

// appendTOML is an edit that appends a section to a rendered TOML.
func appendTOML(section string) func(string) string {
	return func(s string) string { return s + "\n" + section }
}

// replaceDLQConsumer is an edit of the async pipeline's TOML that replaces
// the dead-letter queue's consumer section (up to the rate limiter's) with
// section.
func replaceDLQConsumer(section string) func(string) string {
	return func(s string) string {
		i := strings.Index(s, "# The dead-letter queue's consumer")
		j := strings.Index(s, "# In front of every model call.")
		return s[:i] + section + s[j:]
	}
}

func TestCrossChecks(t *testing.T) {
	cases := []struct {
		name, product string
		edit          func(string) string
		want          string
	}{
		{"dlq names no queue", "email-worker",
			replaceOnce(`dead_letter_queue = "email-worker-demo-jobs-dlq"`, `dead_letter_queue = "email-worker-demo-dlq"`),
			`dead_letter_queue "email-worker-demo-dlq"`},
		{"unknown key", "ai-relay", appendTOML("[observability]\nenabled = true\n"), "unknown key(s) observability"},
		{"duplicate binding", "ai-relay", appendTOML("[[analytics_engine_datasets]]\nbinding = \"OUTPUTS\"\ndataset = \"x\"\n"),
			"binding OUTPUTS is declared twice"},
		{"a kv namespace zerocost does not render", "sales-engine", appendTOML("[[kv_namespaces]]\nbinding = \"JOBS\"\nid = \"x\"\n"),
			"kv_namespaces binding JOBS (id x) is not the product's keys namespace sales-engine-demo-keys"},
		{"keys without their namespace", "sales-engine", func(s string) string {
			i := strings.Index(s, "[[kv_namespaces]]")
			return s[:i] + strings.Replace(s[i:], "binding = \"KEYS\"", "binding = \"KEYZ\"", 1)
		}, "kv_namespaces binding KEYZ"},
		{"public with a door", "sales-engine", replaceOnce(`ACCESS = "keys"`, `ACCESS = "public"`),
			`var ACCESS is "public" but the product's access is "keys"`},
		{"no r2 for outputs", "sales-engine", replaceOnce("[[r2_buckets]]\nbinding = \"OUTPUTS\"", "[[r2_buckets]]\nbinding = \"RESULTS\""),
			"needs a r2_bucket binding named OUTPUTS (job records, results and cached answers live in R2"},
		{"two consumers on a queue", "email-worker", appendTOML("[[queues.consumers]]\nqueue = \"email-worker-demo-jobs\"\nmax_batch_size = 1\n"),
			"already has a consumer"},
		{"dlq without consumer", "email-worker", replaceDLQConsumer("[[queues.producers]]\nbinding = \"DLQ\"\nqueue = \"email-worker-demo-jobs-dlq\"\n\n"),
			"has no consumer"},
		{"dlq not declared", "email-worker", replaceDLQConsumer(""), "names no declared queue"},
		{"bad rate limit period", "ai-relay", replaceOnce("period = 60", "period = 30"), "period 30"},
		{"batch too large", "email-worker", replaceOnce("max_batch_size = 1\n", "max_batch_size = 500\n"), "max_batch_size 500"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := mutate(t, c.product, c.edit)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestNamesTooLongForCloudflare(t *testing.T) {
	vals := map[string]stack.Value{
		"accountId": {Text: "0123456789abcdef0123456789abcdef"},
		"products":  {Text: `[{"name":"a-very-long-product-name-for-a-bucket-xx","pattern":"async-pipeline"}]`},
	}
	cfg, err := stack.FromValues("production-eu1", vals)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(cfg, projectDir)
	if err == nil || !strings.Contains(err.Error(), "zerocost:products[a-very-long-product-name-for-a-bucket-xx].name") || !strings.Contains(err.Error(), "63") {
		t.Fatalf("got %v", err)
	}
}

func TestHooksMustExist(t *testing.T) {
	vals := map[string]stack.Value{
		"accountId": {Text: "0123456789abcdef0123456789abcdef"},
		"products":  {Text: `[{"name":"a","pattern":"edge-cache","hooks":"hooks/missing.ts"}]`},
	}
	cfg, err := stack.FromValues("demo", vals)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = Build(cfg, projectDir); err == nil || !strings.Contains(err.Error(), "zerocost:products[a].hooks") {
		t.Fatalf("got %v", err)
	}
}

// Secrets configured for the stack are bound by reference; their values never
// enter the rendered config or the plan.
func TestSecretsByReferenceOnly(t *testing.T) {
	const key, token = "sk-ant-secret-value-123", "bearer-secret-456"
	vals := map[string]stack.Value{
		"accountId":       {Text: "0123456789abcdef0123456789abcdef"},
		"anthropicApiKey": {Text: key, Secret: true},
		"authToken":       {Text: token, Secret: true},
		"products":        {Text: `[{"name":"a","pattern":"event-agent"},{"name":"b","pattern":"async-pipeline"},{"name":"c","pattern":"edge-cache"}]`},
	}
	cfg, err := stack.FromValues("demo", vals)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(cfg, projectDir)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(p)
	for _, pr := range p.Products {
		js = append(js, pr.WranglerTOML...)
		if b := pr.Binding(contract.AuthToken); b == nil || b.Type != Secret || !b.Configured {
			t.Errorf("%s: AUTH_TOKEN binding %+v", pr.Name, b)
		}
	}
	for _, s := range []string{key, token} {
		if bytes.Contains(js, []byte(s)) {
			t.Errorf("secret %q leaked into the plan or a rendered config", s)
		}
	}
	if len(p.MissingSecrets()) != 0 {
		t.Errorf("missing secrets: %v", p.MissingSecrets())
	}
}

// Kinds is the one registry of binding kinds: each is listed once, with the
// API field that carries its target, and every binding a plan holds is of a
// listed kind.
func TestKinds(t *testing.T) {
	seen := map[Kind]bool{}
	for _, k := range Kinds {
		if seen[k.Kind] || k.Field == "" || k.Target == "" {
			t.Errorf("kind %+v: listed twice or without a field or target", k)
		}
		seen[k.Kind] = true
		if info, ok := k.Kind.Info(); !ok || info.Kind != k.Kind {
			t.Errorf("%s: Info %+v", k.Kind, info)
		}
	}
	if _, ok := Kind("d2").Info(); ok {
		t.Error("an unknown kind has an Info")
	}
	_, p := demo(t)
	used := map[Kind]bool{}
	for _, pr := range p.Products {
		for _, b := range pr.Bindings {
			used[b.Type] = true
			if !seen[b.Type] {
				t.Errorf("%s: binding %s has kind %q, not in Kinds", pr.Name, b.Name, b.Type)
			}
		}
	}
	for k := range seen {
		if !used[k] {
			t.Errorf("the demo plan binds no %s: the tests of the consumers would not exercise it", k)
		}
	}
	// A binding of an unknown kind fails the plan's checks.
	p.Products[0].Bindings = append(p.Products[0].Bindings, Binding{Type: "d2", Name: "DB", Target: "x"})
	if errs := p.Check(); len(errs) == 0 || !strings.Contains(errors.Join(errs...).Error(), `binding DB has type "d2"`) {
		t.Errorf("unknown kind: %v", errs)
	}
}

// Batch mode: MODEL_MODE and MAX_RETRIES vars, the poller's cron trigger
// beside the product's own; more than Workers Free's 5 crons is a warning.
// buildProducts plans a demo stack of these products (a JSON list).
func buildProducts(t *testing.T, products string) *Plan {
	t.Helper()
	p, err := Build(stacktest.Config(t, products), projectDir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBatchModeCronsAndVars(t *testing.T) {
	p := buildProducts(t, `[
			{"name":"rt","pattern":"async-pipeline"},
			{"name":"bt","pattern":"async-pipeline","crons":["0 3 * * mon"],"settings":{"modelMode":"batch","maxRetries":4}}
		]`)
	rt, bt := p.Product("rt"), p.Product("bt")
	if rt.Var(contract.VarModelMode) != "realtime" || rt.Var(contract.VarMaxRetries) != "3" || len(rt.Crons) != 0 {
		t.Errorf("realtime: %s=%q %s=%q crons %v", contract.VarModelMode, rt.Var(contract.VarModelMode), contract.VarMaxRetries, rt.Var(contract.VarMaxRetries), rt.Crons)
	}
	if bt.Var(contract.VarModelMode) != "batch" || bt.Var(contract.VarMaxRetries) != "4" || strings.Join(bt.Crons, "|") != "0 3 * * mon|*/5 * * * *" {
		t.Errorf("batch: %s=%q %s=%q crons %v", contract.VarModelMode, bt.Var(contract.VarModelMode), contract.VarMaxRetries, bt.Var(contract.VarMaxRetries), bt.Crons)
	}
	if !strings.Contains(string(bt.WranglerTOML), `crons = ["0 3 * * mon", "*/5 * * * *"]`) {
		t.Errorf("wrangler.toml:\n%s", bt.WranglerTOML)
	}
	if p.CronTriggers() != 2 || len(p.Warnings()) != 0 {
		t.Errorf("%d crons, warnings %v", p.CronTriggers(), p.Warnings())
	}
	bt.Crons = append(bt.Crons, "1 * * * *", "2 * * * *", "3 * * * *", "4 * * * *")
	w := p.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "6 cron triggers (bt 6)") || !strings.Contains(w[0], "Workers Free allows 5 per account") {
		t.Errorf("warnings %v", w)
	}
}

// A public product without a budget is warned about; a stack that sets
// authToken is told what it guards now and that its keyed products take keys.
func TestAccessWarnings(t *testing.T) {
	cfg, err := stack.FromValues("dev", map[string]stack.Value{
		stack.KeyAccountID: {Text: "0123456789abcdef0123456789abcdef"},
		stack.KeyAuthToken: {Secret: true},
		stack.KeyProducts:  {Text: `[{"name":"open","pattern":"edge-cache","access":"public"},{"name":"sold","pattern":"event-agent"}]`},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(cfg, projectDir)
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(p.Warnings(), "\n")
	for _, want := range []string{"open is public (access: public) and has no budget", "zerocost:authToken now guards the admin routes (/admin/...) only", "sold take customer keys instead"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if strings.Contains(w, "sold is public") {
		t.Errorf("a keyed product warned as public:\n%s", w)
	}
	if pr := p.Product("open"); pr.KeysNamespace() != "" || pr.Binding("KEYS") != nil || len(pr.Doors()) != 0 {
		t.Errorf("the public product binds keys: %+v", pr.Bindings)
	}
	if pr := p.Product("sold"); pr.KeysNamespace() != "sold-dev-keys" || len(pr.Doors()) != 1 || pr.Doors()[0].Name != "DOOR_STANDARD" || pr.Doors()[0].Limit != stack.DefaultTierPerMinute {
		t.Errorf("the keyed product: namespace %q doors %+v", pr.KeysNamespace(), pr.Doors())
	}
}

// runner: workflow binds the job's Workflow; runner: waitUntil does not, and
// is warned about when the longest answer cannot be written in 25 s.
func TestRunners(t *testing.T) {
	p := buildProducts(t, `[
			{"name":"wf","pattern":"event-agent"},
			{"name":"short","pattern":"event-agent","settings":{"runner":"waitUntil","maxOutputTokens":1000}},
			{"name":"long","pattern":"event-agent","model":"claude-sonnet-4-5","settings":{"runner":"waitUntil","maxOutputTokens":2000}}
		]`)
	wf, short := p.Product("wf"), p.Product("short")
	if b := wf.Binding(contract.JobWorkflow); b == nil || b.Type != Workflow || b.Target != "wf-demo-jobs" || b.Class != contract.JobWorkflowClass || wf.Var(contract.VarRunner) != "workflow" {
		t.Errorf("workflow runner: binding %+v, RUNNER %q", b, wf.Var(contract.VarRunner))
	}
	if short.Binding(contract.JobWorkflow) != nil || short.Var(contract.VarRunner) != "waitUntil" {
		t.Errorf("waitUntil runner: %+v", short.Bindings)
	}
	// 1,000 tokens of Haiku 4.5 at 53 a second: 19 s, inside 25 s; 2,000 of Sonnet at 55: 36 s.
	w := p.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "long: runner: waitUntil, but 2000 output tokens of claude-sonnet-4-5 take about 36 s") {
		t.Errorf("warnings %v", w)
	}
	// A Workflow binding that names another class is refused.
	wf.Binding(contract.JobWorkflow).Class = "Other"
	if errs := p.Check(); len(errs) != 1 || !strings.Contains(errs[0].Error(), `runs class "Other"`) {
		t.Errorf("check: %v", errs)
	}
}

// A realtime pipeline whose batchSize is above the full packs one delivery
// runs is warned about; the default, and batch mode, are not.
func TestBatchSizeWarnings(t *testing.T) {
	p := buildProducts(t, `[
			{"name":"unset","pattern":"async-pipeline"},
			{"name":"big","pattern":"async-pipeline","settings":{"batchSize":5}},
			{"name":"bulk","pattern":"async-pipeline","settings":{"modelMode":"batch","batchSize":50}}
		]`)
	if got := p.Product("unset").Settings.BatchSize; got != 1 {
		t.Fatalf("unset: batchSize %d, want 1 (a keyed product has a spend store)", got)
	}
	w := strings.Join(p.Warnings(), "\n")
	if !strings.Contains(w, "big: batchSize 5, but one queue delivery runs at most 10 jobs") || !strings.Contains(w, "leave batchSize unset (1)") {
		t.Errorf("warnings lack big's batch size:\n%s", w)
	}
	if strings.Contains(w, "unset:") || strings.Contains(w, "bulk:") {
		t.Errorf("warnings name a product at its default or in batch mode:\n%s", w)
	}
}
