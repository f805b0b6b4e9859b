// Package e2e drives the real Pulumi CLI, Go language host and Cloudflare
// provider plugin (pulumi-resource-cloudflare 6.18.0) through the whole life
// of the demo stack against the fake Cloudflare API (internal/cftest) on
// 127.0.0.1: preview, up, no-change preview and refresh, zerocost verify,
// updates, zerocost deploy with and without a rollback, and destroy. The
// fake fails the test on any request it does not know.
//
// `make e2e` runs it and fails when the tools are missing; inside `go test
// ./...` it runs when the tools are found (make pulumi-tools puts them in
// .tools/pulumi) and says why when it skips.
package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/zerocost/zerocost/internal/bundle"
	"github.com/zerocost/zerocost/internal/cftest"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/stack"
)

func TestPulumiLifecycle(t *testing.T) {
	w := newWorld(t)
	w.pulumi("stack", "init", "demo")
	w.pulumi("config", "set", "--secret", "zerocost:anthropicApiKey", anthropic)
	w.pulumi("config", "set", "--secret", "zerocost:budgetAlertWebhook", webhook)
	w.pulumi("config", "set", "--secret", "cloudflare:apiToken", cfToken)
	w.pulumi("config", "set", "cloudflare:baseUrl", w.fake.BaseURL())

	p := w.plan("demo")
	if p.SpendDatabase == nil || p.Product("ai-relay").Binding("BUDGET_ALERT_WEBHOOK") == nil {
		t.Fatal("the demo stack has no spend guard or no webhook: the e2e would not deploy the D1 database and the webhook secret")
	}
	want := resourceCount(p)

	step(t, w, "preview plans every resource", func(t *testing.T) {
		u := parseUpdate(t, w.pulumi("preview", "--json"))
		if got := u.ChangeSummary["create"]; got != want {
			t.Errorf("preview creates %d resources, the plan has %d (summary %v)", got, want, u.ChangeSummary)
		}
		if a, _ := w.state(); len(a.Scripts)+len(a.KVNamespaces)+len(a.Buckets)+len(a.Queues) != 0 {
			t.Errorf("preview changed the account: %+v", a)
		}
	})

	step(t, w, "up creates the plan exactly", func(t *testing.T) {
		u := parseUpdate(t, w.pulumi("up", "--yes", "--skip-preview", "--json"))
		if got := u.ChangeSummary["create"]; got != want {
			t.Errorf("up created %d resources, want %d (summary %v)", got, want, u.ChangeSummary)
		}
		w.checkDeployed(t, p)
	})

	step(t, w, "no changes and no drift right after up", func(t *testing.T) {
		w.pulumi("preview", "--expect-no-changes")
		w.pulumi("refresh", "--yes", "--expect-no-changes")
		w.pulumi("preview", "--expect-no-changes") // refresh left nothing to change either
	})

	step(t, w, "zerocost verify passes on the stack outputs", func(t *testing.T) {
		w.verify("demo", 0)
	})

	step(t, w, "a batch size change updates only the consumers", func(t *testing.T) {
		// The demo's pipeline takes the default batch size (the packs one delivery runs); set one.
		w.editStack("demo", func(s string) string {
			edited := strings.Replace(s, "        batchTimeoutSeconds: 10\n", "        batchSize: 2\n        batchTimeoutSeconds: 10\n", 1)
			if edited == s {
				t.Fatal("the demo stack has no batchTimeoutSeconds: 10 to set a batch size beside")
			}
			return edited
		})
		next := w.plan("demo")
		u := parseUpdate(t, w.pulumi("up", "--yes", "--skip-preview", "--json"))
		t.Logf("up did %v", u.ops())
		wantOps := map[string][]string{"update": changedResources(t, w, p, next)}
		if got := u.ops(); !equalOps(got, wantOps) {
			t.Errorf("up did %v, want %v", got, wantOps)
		}
		p = next
		w.checkDeployed(t, p)
		w.pulumi("preview", "--expect-no-changes")
	})

	step(t, w, "a cache TTL change updates the answers' lifecycle rule and the Worker's var, nothing else", func(t *testing.T) {
		w.editStack("demo", func(s string) string {
			return strings.Replace(s, "cacheTtlSeconds: 86400", "cacheTtlSeconds: 90000", 1)
		})
		next := w.plan("demo")
		u := parseUpdate(t, w.pulumi("up", "--yes", "--skip-preview", "--json"))
		wantOps := map[string][]string{"update": changedResources(t, w, p, next)}
		if got := u.ops(); !equalOps(got, wantOps) || !slices.Contains(wantOps["update"], "cloudflare:index/r2BucketLifecycle:R2BucketLifecycle::ai-relay-demo-outputs-lifecycle") {
			t.Errorf("up did %v, want %v (the lifecycle rules among them)", got, wantOps)
		}
		p = next
		w.checkDeployed(t, p) // answers/ now after 2 days
		w.pulumi("preview", "--expect-no-changes")
	})

	step(t, w, "an added product creates only its own resources", func(t *testing.T) {
		w.editStack("demo", func(s string) string {
			return addProduct(t, s, `
name: news-digest
pattern: edge-cache
systemPrompt: You summarise the news in two sentences.
route: { pattern: digest.example.com/ask*, zoneId: `+zoneID+` }
crons: ["0 6 * * *", "30 18 * * 1-5"]
`)
		})
		next := w.plan("demo")
		added := next.Product("news-digest")
		if added == nil {
			t.Fatal("news-digest is not in the plan")
		}
		u := parseUpdate(t, w.pulumi("up", "--yes", "--skip-preview", "--json"))
		t.Logf("up did %v", u.ops())
		created := u.ops()["create"]
		if len(u.ops()) != 1 || len(created) != productResourceCount(added) {
			t.Errorf("up did %v, want only %d creates", u.ops(), productResourceCount(added))
		}
		for _, name := range created {
			if !strings.Contains(name, "news-digest") {
				t.Errorf("created %s, which is not news-digest's", name)
			}
		}
		p = next
		w.checkDeployed(t, p)
		w.pulumi("refresh", "--yes", "--expect-no-changes")
		w.verify("demo", 0)
	})

	step(t, w, "zerocost deploy through the real CLI", func(t *testing.T) {
		w.editStack("demo", func(s string) string {
			return strings.Replace(s, "in at most three sentences.", "in at most two sentences.", 1)
		})
		before := w.activeVersions("ai-relay-demo")
		events := w.deploy(0)
		if r := lastResult(t, events); r["outcome"] != "deployed" {
			t.Errorf("deploy result %v", r)
		}
		after := w.activeVersions("ai-relay-demo")
		if slices.Equal(before, after) {
			t.Errorf("ai-relay's active version did not change: %v", after)
		}
		p = w.plan("demo")
		w.checkDeployed(t, p)
	})

	step(t, w, "a deploy whose verification fails rolls its Workers back", func(t *testing.T) {
		w.editStack("demo", func(s string) string {
			return strings.Replace(s, "in at most two sentences.", "in one sentence.", 1)
		})
		before := w.activeVersions("ai-relay-demo")
		untouched := w.activeVersions("sales-engine-demo")
		// Verification reads each Worker's settings; make ai-relay's fail as
		// a broken deploy would. Cloudflare's 10007 is "script not found".
		w.fake.AddFault(cftest.Fault{Method: "GET", Path: "/accounts/" + w.account + "/workers/scripts/ai-relay-demo/settings",
			Status: 404, Errors: []cftest.Message{{Code: 10007, Message: "This Worker does not exist on your account."}}, Times: 1000})
		defer w.fake.ClearFaults()
		events := w.deploy(1)
		var rolledBack []string
		for _, e := range events {
			if e["type"] == "script" && e["status"] == "rolled_back" {
				rolledBack = append(rolledBack, fmt.Sprint(e["script"]))
			}
		}
		if !slices.Equal(rolledBack, []string{"ai-relay-demo"}) {
			t.Errorf("rolled back %v, want exactly ai-relay-demo (the one Worker the deploy changed)", rolledBack)
		}
		if got := w.activeVersions("ai-relay-demo"); !slices.Equal(got, before) {
			t.Errorf("ai-relay serves %v after the rollback, want %v", got, before)
		}
		if got := w.activeVersions("sales-engine-demo"); !slices.Equal(got, untouched) {
			t.Errorf("sales-engine, which the deploy did not change, went from %v to %v", untouched, got)
		}
	})

	step(t, w, "secrets stay encrypted in the state", func(t *testing.T) {
		w.checkStateHasNoSecrets()
	})

	step(t, w, "destroy keeps the R2 buckets, the spend database and the keys namespaces when retainData is true", func(t *testing.T) {
		w.pulumi("destroy", "--yes", "--skip-preview")
		a, z := w.state()
		if len(a.D1Databases) != 1 || a.D1Databases[0].Name != p.SpendDatabase.Name {
			t.Errorf("D1 databases after destroy %+v, want the spend database %s", a.D1Databases, p.SpendDatabase.Name)
		}
		var buckets []string
		for _, b := range a.Buckets {
			buckets = append(buckets, b.Name)
		}
		var wantBuckets []string
		for _, pr := range p.Products {
			for _, b := range pr.R2Buckets {
				wantBuckets = append(wantBuckets, b.Name)
			}
		}
		sort.Strings(buckets)
		sort.Strings(wantBuckets)
		if !slices.Equal(buckets, wantBuckets) {
			t.Errorf("buckets after destroy %v, want %v", buckets, wantBuckets)
		}
		// The customer keys stay too (retainData): one namespace per product.
		if len(a.KVNamespaces) != len(p.Products) {
			t.Errorf("KV namespaces after destroy %+v, want each product's keys", a.KVNamespaces)
		}
		if n := len(a.Scripts) + len(a.Queues) + len(a.CustomDomains) + len(z.Routes); n != 0 {
			t.Errorf("%d resources left after destroy: scripts %d, queues %d, domains %d, routes %d",
				n, len(a.Scripts), len(a.Queues), len(a.CustomDomains), len(z.Routes))
		}
	})
}

// TestPulumiDestroyWithoutRetain: with retainData false, destroy leaves
// nothing, the buckets included; the stack also has a custom domain.
func TestPulumiDestroyWithoutRetain(t *testing.T) {
	w := newWorld(t)
	data := `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:retainData: false
  zerocost:monthlyBudgetUsd: 20
  zerocost:products:
    - name: helpdesk
      pattern: async-pipeline
      systemPrompt: You draft helpdesk answers.
      settings: { batchSize: 20, batchTimeoutSeconds: 5, maxRetries: 5, maxConcurrency: 3 }
    - name: faq
      pattern: edge-cache
      systemPrompt: You answer FAQ questions.
      customDomain: { hostname: faq.example.com, zoneId: ` + zoneID + ` }
      crons: ["*/30 * * * *"]
`
	if err := os.WriteFile(filepath.Join(w.project, "Pulumi.scratch.yaml"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	w.pulumi("stack", "init", "scratch")
	w.pulumi("config", "set", "--secret", "zerocost:anthropicApiKey", anthropic)
	w.pulumi("config", "set", "--secret", "cloudflare:apiToken", cfToken)
	w.pulumi("config", "set", "cloudflare:baseUrl", w.fake.BaseURL())
	p := w.plan("scratch")
	step(t, w, "up", func(t *testing.T) {
		u := parseUpdate(t, w.pulumi("up", "--yes", "--skip-preview", "--json"))
		if got := u.ChangeSummary["create"]; got != resourceCount(p) {
			t.Errorf("created %d, want %d", got, resourceCount(p))
		}
		w.checkDeployed(t, p)
		w.pulumi("refresh", "--yes", "--expect-no-changes")
		w.verifyStack("scratch", 0)
	})
	step(t, w, "destroy leaves nothing", func(t *testing.T) {
		w.pulumi("destroy", "--yes", "--skip-preview")
		a, z := w.state()
		if n := len(a.Scripts) + len(a.KVNamespaces) + len(a.Buckets) + len(a.Queues) + len(a.CustomDomains) + len(z.Routes) + len(a.D1Databases); n != 0 {
			t.Errorf("%d resources left: %+v", n, a)
		}
	})
}

// step runs one stage; a failed stage stops the test, since the next ones
// build on it. The world's helpers report to the stage while it runs.
func step(t *testing.T, w *world, name string, fn func(t *testing.T)) {
	t.Helper()
	ok := t.Run(name, func(t *testing.T) {
		w.t = t
		fn(t)
	})
	w.t = t
	if !ok {
		t.FailNow()
	}
}

// addProduct appends a product (YAML) to a stack file's zerocost:products,
// keeping everything else, the encrypted secrets included.
func addProduct(t *testing.T, stackYAML, product string) string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(stackYAML), &doc); err != nil {
		t.Fatal(err)
	}
	var item yaml.Node
	if err := yaml.Unmarshal([]byte(product), &item); err != nil {
		t.Fatal(err)
	}
	products := lookup(doc.Content[0], "config", "zerocost:products")
	if products == nil || products.Kind != yaml.SequenceNode {
		t.Fatalf("no zerocost:products list in the stack file")
	}
	products.Content = append(products.Content, item.Content[0])
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func lookup(n *yaml.Node, path ...string) *yaml.Node {
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// plan builds the plan of the project copy's stack, as infra/ does.
func (w *world) plan(stackName string) *plan.Plan {
	w.t.Helper()
	cfg, err := stack.LoadFile(w.project, stackName)
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := plan.Build(cfg, w.project)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// productResourceCount is how many resources infra/ makes for a product:
// its component and every Cloudflare resource under it (a Workflow per
// workflow binding).
func productResourceCount(pr *plan.Product) int {
	// Each bucket has its lifecycle rules beside it.
	n := 1 + 2*len(pr.R2Buckets) + len(pr.KVNamespaces) + len(pr.Queues) + len(pr.Consumers) + 1 + len(pr.Routes)
	for _, b := range pr.Bindings {
		if b.Type == plan.Workflow {
			n++
		}
	}
	if pr.WorkersDev {
		n++
	}
	if len(pr.Crons) > 0 {
		n++
	}
	return n
}

// resourceCount adds the stack (the engine's summaries leave the default
// Cloudflare provider out) and the stack's spend database.
func resourceCount(p *plan.Plan) int {
	n := 1
	if p.SpendDatabase != nil {
		n++
	}
	for i := range p.Products {
		n += productResourceCount(&p.Products[i])
	}
	return n
}

// changedResources lists the resources whose inputs differ between two plans
// of the same products: consumers by settings, scripts by bundle.
func changedResources(t *testing.T, w *world, before, after *plan.Plan) []string {
	t.Helper()
	var out []string
	for i := range after.Products {
		b, a := before.Product(after.Products[i].Name), &after.Products[i]
		for j, c := range a.Consumers {
			if j < len(b.Consumers) && c != b.Consumers[j] {
				out = append(out, "cloudflare:index/queueConsumer:QueueConsumer::"+c.Queue+"-consumer")
			}
		}
		if !slices.Equal(a.Lifecycle, b.Lifecycle) {
			for _, bk := range a.R2Buckets {
				out = append(out, "cloudflare:index/r2BucketLifecycle:R2BucketLifecycle::"+bk.Name+"-lifecycle")
			}
		}
		if w.bundle(b) != w.bundle(a) || !slices.Equal(a.Bindings, b.Bindings) {
			out = append(out, "cloudflare:index/workersScript:WorkersScript::"+a.Script)
		}
	}
	sort.Strings(out)
	return out
}

func (w *world) bundle(pr *plan.Product) string {
	w.t.Helper()
	b, err := bundle.Product(pr, w.project, bundle.Options{})
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b.Code)
}

func equalOps(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// checkDeployed compares the fake's account with the plan, setting by setting.
func (w *world) checkDeployed(t *testing.T, p *plan.Plan) {
	t.Helper()
	a, z := w.state()
	// The KV namespaces: each product's customer keys, once each, nothing else.
	kvs := map[string]string{} // title -> id
	for _, ns := range a.KVNamespaces {
		if _, dup := kvs[ns.Title]; dup {
			t.Errorf("KV namespace %s twice", ns.Title)
		}
		kvs[ns.Title] = ns.ID
	}
	wantKV := 0
	for _, pr := range p.Products {
		for _, ns := range pr.KVNamespaces {
			wantKV++
			if kvs[ns.Title] == "" {
				t.Errorf("%s: KV namespace %s missing", pr.Name, ns.Title)
			}
		}
	}
	if len(kvs) != wantKV {
		t.Errorf("the account has KV namespaces %+v, the plan %d", a.KVNamespaces, wantKV)
	}
	w.kvs = kvs
	buckets := map[string]bool{}
	lifecycles := map[string]json.RawMessage{}
	for _, b := range a.Buckets {
		buckets[b.Name] = true
		lifecycles[b.Name] = b.Lifecycle
	}
	queues := map[string]*cftest.Queue{}
	for _, q := range a.Queues {
		queues[q.Name] = q
	}
	scripts := map[string]*cftest.Script{}
	for _, s := range a.Scripts {
		scripts[s.Name] = s
	}
	// The stack's spend database: there when the plan has one, once.
	databases := map[string]string{} // name -> uuid
	for _, db := range a.D1Databases {
		if _, dup := databases[db.Name]; dup {
			t.Errorf("D1 database %s twice", db.Name)
		}
		databases[db.Name] = db.UUID
	}
	if p.SpendDatabase != nil && databases[p.SpendDatabase.Name] == "" {
		t.Errorf("the spend database %s is missing (D1: %+v)", p.SpendDatabase.Name, a.D1Databases)
	}
	if p.SpendDatabase == nil && len(a.D1Databases) != 0 {
		t.Errorf("D1 databases %+v without a budget", a.D1Databases)
	}
	w.databases = databases
	for i := range p.Products {
		pr := &p.Products[i]
		for _, b := range pr.R2Buckets {
			if !buckets[b.Name] {
				t.Errorf("%s: bucket %s missing", pr.Name, b.Name)
			}
			checkLifecycle(t, b.Name, pr.Lifecycle, lifecycles[b.Name])
		}
		for _, q := range pr.Queues {
			if queues[q.Name] == nil {
				t.Errorf("%s: queue %s missing", pr.Name, q.Name)
			}
		}
		for _, c := range pr.Consumers {
			q := queues[c.Queue]
			if q == nil {
				continue
			}
			if len(q.Consumers) != 1 {
				t.Errorf("%s: queue %s has %d consumers, want 1", pr.Name, c.Queue, len(q.Consumers))
				continue
			}
			got := q.Consumers[0]
			wantConc := "<nil>"
			if c.MaxConcurrency > 0 {
				wantConc = fmt.Sprint(c.MaxConcurrency)
			}
			gotConc := "<nil>"
			if got.Settings.MaxConcurrency != nil {
				gotConc = fmt.Sprint(*got.Settings.MaxConcurrency)
			}
			if got.ScriptName != pr.Script || got.Type != "worker" || got.DeadLetterQueue != c.DeadLetterQueue ||
				got.Settings.BatchSize != c.BatchSize || got.Settings.MaxRetries != c.MaxRetries ||
				got.Settings.MaxWaitTimeMs != c.BatchTimeoutSeconds*1000 || got.Settings.RetryDelay != c.RetryDelaySeconds || gotConc != wantConc {
				t.Errorf("%s: consumer of %s is %+v (max_concurrency %s), want script %s, dlq %q, batch %d, retries %d, wait %d ms, retry delay %d, max_concurrency %s",
					pr.Name, c.Queue, got, gotConc, pr.Script, c.DeadLetterQueue, c.BatchSize, c.MaxRetries, c.BatchTimeoutSeconds*1000, c.RetryDelaySeconds, wantConc)
			}
		}
		s := scripts[pr.Script]
		if s == nil {
			t.Errorf("%s: script %s missing", pr.Name, pr.Script)
			continue
		}
		if s.Code() != w.bundle(pr) {
			t.Errorf("%s: the uploaded code is not the product's bundle (%d bytes, bundle %d)", pr.Name, len(s.Code()), len(w.bundle(pr)))
		}
		if s.MainModule != pr.MainModule || s.CompatibilityDate != pr.CompatibilityDate {
			t.Errorf("%s: main module %q, compatibility date %q; want %q, %q", pr.Name, s.MainModule, s.CompatibilityDate, pr.MainModule, pr.CompatibilityDate)
		}
		if s.WorkersDev != pr.WorkersDev {
			t.Errorf("%s: workers.dev enabled %v, want %v", pr.Name, s.WorkersDev, pr.WorkersDev)
		}
		var crons []string
		for _, c := range s.Schedules {
			crons = append(crons, c.Cron)
		}
		if !slices.Equal(crons, pr.Crons) {
			t.Errorf("%s: crons %v, want %v", pr.Name, crons, pr.Crons)
		}
		w.checkBindings(t, pr, s)
		for _, b := range pr.Bindings {
			if b.Type == plan.Workflow && !slices.ContainsFunc(a.Workflows, func(wf cftest.Workflow) bool {
				return wf.Name == b.Target && wf.ClassName == b.Class && wf.ScriptName == pr.Script
			}) {
				t.Errorf("%s: Workflow %s (class %s of %s) missing: %+v", pr.Name, b.Target, b.Class, pr.Script, a.Workflows)
			}
		}
		for _, r := range pr.Routes {
			found := false
			if r.CustomDomain {
				for _, d := range a.CustomDomains {
					found = found || d.Hostname == r.Pattern && d.Service == pr.Script && d.ZoneID == r.ZoneID
				}
			} else {
				for _, zr := range z.Routes {
					found = found || zr.Pattern == r.Pattern && zr.Script == pr.Script
				}
			}
			if !found {
				t.Errorf("%s: route %+v missing (routes %+v, domains %+v)", pr.Name, r, z.Routes, a.CustomDomains)
			}
		}
	}
}

// checkBindings: the script has exactly the plan's bindings, each pointing at
// what the plan says; the secret carries the configured key.
func (w *world) checkBindings(t *testing.T, pr *plan.Product, s *cftest.Script) {
	t.Helper()
	if len(s.Bindings) != len(pr.Bindings) {
		t.Errorf("%s: %d bindings, the plan has %d", pr.Name, len(s.Bindings), len(pr.Bindings))
	}
	for _, b := range pr.Bindings {
		got, ok := s.Binding(b.Name)
		if !ok {
			t.Errorf("%s: binding %s missing", pr.Name, b.Name)
			continue
		}
		if got.Type != string(b.Type) {
			t.Errorf("%s: binding %s has type %s, want %s", pr.Name, b.Name, got.Type, b.Type)
			continue
		}
		var ok2 bool
		switch b.Type {
		case plan.R2:
			ok2 = got.BucketName == b.Target
		case plan.Queue:
			ok2 = got.QueueName == b.Target
		case plan.PlainText:
			ok2 = got.Text == b.Target
		case plan.Secret:
			want := anthropic
			if b.Name == "BUDGET_ALERT_WEBHOOK" {
				want = webhook
			}
			ok2 = got.Text == want
		case plan.D1:
			id := got.ID
			if id == "" {
				id = got.DatabaseID
			}
			ok2 = id != "" && id == w.databases[b.Target]
		case plan.RateLimit:
			ok2 = got.NamespaceID == b.Target && got.Simple != nil && got.Simple.Limit == b.Limit && got.Simple.Period == b.Period
		case plan.Analytics:
			ok2 = got.Dataset == b.Target
		case plan.KV:
			ok2 = got.NamespaceID != "" && got.NamespaceID == w.kvs[b.Target]
		case plan.Workflow:
			ok2 = string(got.Extra["workflow_name"]) == strconv.Quote(b.Target) && string(got.Extra["class_name"]) == strconv.Quote(b.Class)
		default:
			t.Errorf("%s: binding %s: the test does not know type %s", pr.Name, b.Name, b.Type)
			continue
		}
		if !ok2 {
			t.Errorf("%s: binding %s is %+v, the plan says %+v", pr.Name, b.Name, got, b)
		}
	}
}

// verify runs `zerocost verify` on the stack's outputs, resource checks only
// (the fake API runs no Workers).
func (w *world) verify(stackName string, wantExit int) {
	w.t.Helper()
	w.verifyStack(stackName, wantExit)
}

func (w *world) verifyStack(stackName string, wantExit int) {
	w.t.Helper()
	outs := w.pulumi("stack", "output", "--json", "--stack", stackName)
	file := filepath.Join(w.t.TempDir(), "outputs.json")
	if err := os.WriteFile(file, []byte(outs), 0o644); err != nil {
		w.t.Fatal(err)
	}
	if strings.Contains(outs, anthropic) {
		w.t.Errorf("the stack outputs contain the API key")
	}
	out := w.run(wantExit, w.zerocost, "verify", "--stack", stackName, "--outputs", file, "--skip-routes", "--json", "--project-dir", w.project)
	var rep struct {
		Passed bool `json:"passed"`
		Checks []struct {
			Product, Check, Status, Detail string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		w.t.Fatalf("verify --json: %v\n%s", err, out)
	}
	if wantExit == 0 && (!rep.Passed || len(rep.Checks) == 0) {
		w.t.Errorf("verify: passed %v with %d checks", rep.Passed, len(rep.Checks))
	}
}

// deploy runs `zerocost deploy --yes --json` (resource checks only) and
// returns its events.
func (w *world) deploy(wantExit int) []map[string]any {
	w.t.Helper()
	out := w.run(wantExit, w.zerocost, "deploy", "--stack", "demo", "--yes", "--json", "--skip-routes", "--project-dir", w.project)
	var events []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			w.t.Fatalf("deploy --json line %q: %v", line, err)
		}
		events = append(events, e)
	}
	if strings.Contains(out, anthropic) {
		w.t.Errorf("deploy's events contain the API key")
	}
	return events
}

func lastResult(t *testing.T, events []map[string]any) map[string]any {
	t.Helper()
	if len(events) == 0 || events[len(events)-1]["type"] != "result" {
		t.Fatalf("deploy's last event is not its result: %v", events)
	}
	return events[len(events)-1]
}

// activeVersions are the version ids a Worker serves now.
func (w *world) activeVersions(script string) []string {
	var ids []string
	for _, v := range w.fake.Active(w.account, script) {
		ids = append(ids, v.VersionID)
	}
	sort.Strings(ids)
	return ids
}

// checkLifecycle compares a bucket's rules, as the provider PUT them, with
// the plan's: same ids, prefixes and ages in seconds, in order, all enabled.
func checkLifecycle(t *testing.T, bucket string, want []plan.LifecycleRule, raw json.RawMessage) {
	t.Helper()
	var got []struct {
		ID         string `json:"id"`
		Enabled    bool   `json:"enabled"`
		Conditions struct {
			Prefix string `json:"prefix"`
		} `json:"conditions"`
		Delete struct {
			Condition struct {
				Type   string `json:"type"`
				MaxAge int    `json:"maxAge"`
			} `json:"condition"`
		} `json:"deleteObjectsTransition"`
	}
	if err := json.Unmarshal(raw, &got); err != nil || len(got) != len(want) {
		t.Errorf("bucket %s: lifecycle rules %s, want %+v (%v)", bucket, raw, want, err)
		return
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.ID || !g.Enabled || g.Conditions.Prefix != w.Prefix || g.Delete.Condition.Type != "Age" || g.Delete.Condition.MaxAge != w.MaxAgeSeconds() {
			t.Errorf("bucket %s: lifecycle rule %d is %+v, want %+v (maxAge %d s)", bucket, i, g, w, w.MaxAgeSeconds())
		}
	}
}
