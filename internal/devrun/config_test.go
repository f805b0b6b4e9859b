package devrun

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/plan/plantest"
	"github.com/zerocost/zerocost/internal/render"
	"github.com/zerocost/zerocost/internal/stack"
)

// projectDir is the repository root, which holds Pulumi.demo.yaml.
const projectDir = "../.."

// Every binding of the plan reaches Miniflare's options, with the plan's values.
func TestBuildWorkerFollowsThePlan(t *testing.T) {
	p := plantest.DemoPlan(t)
	for i := range p.Products {
		pr := &p.Products[i]
		w, _, err := buildWorker(pr, "/x/worker.js", 0, "http://127.0.0.1:9", devSecrets{APIKey: "k"})
		if err != nil {
			t.Fatalf("%s: %v", pr.Name, err)
		}
		if w.Name != pr.Script || w.Product != pr.Name || w.Options.CompatibilityDate != pr.CompatibilityDate {
			t.Errorf("%s: worker %+v", pr.Name, w)
		}
		o := w.Options
		for _, b := range pr.Bindings {
			var ok bool
			switch b.Type {
			case plan.PlainText:
				want := b.Target
				if b.Name == contract.VarAnthropicBaseURL {
					want = "http://127.0.0.1:9"
				}
				ok = o.Bindings[b.Name] == want
			case plan.Secret:
				ok = w.Secrets[b.Name] == secretEnv(b.Name)
			case plan.R2:
				ok = o.R2Buckets[b.Name] == b.Target
			case plan.Queue:
				ok = o.QueueProducers[b.Name].QueueName == b.Target
			case plan.RateLimit:
				rl := o.RateLimits[b.Name]
				ok = rl.NamespaceID == b.Target && rl.Simple.Limit == b.Limit && rl.Simple.Period == b.Period
			case plan.Analytics:
				ok = o.AnalyticsEngineDatasets[b.Name].Dataset == b.Target
			case plan.D1:
				ok = o.D1Databases[b.Name] == render.LocalDatabaseID(b.Target)
			case plan.KV:
				ok = o.KVNamespaces[b.Name] == render.LocalNamespaceID(b.Target) && len(b.Target) > 0
			case plan.Workflow:
				ok = o.Workflows[b.Name] == workflow{Name: b.Target, ClassName: b.Class}
			}
			if !ok {
				t.Errorf("%s: binding %s (%s) not mapped: %+v", pr.Name, b.Name, b.Type, o)
			}
		}
		if len(o.QueueConsumers) != len(pr.Consumers) {
			t.Errorf("%s: %d consumers, plan has %d", pr.Name, len(o.QueueConsumers), len(pr.Consumers))
		}
		for _, c := range pr.Consumers {
			got := o.QueueConsumers[c.Queue]
			if got.MaxBatchSize != c.BatchSize || got.MaxBatchTimeout != c.BatchTimeoutSeconds || got.MaxRetries != c.MaxRetries ||
				got.RetryDelay != c.RetryDelaySeconds || got.DeadLetterQueue != c.DeadLetterQueue {
				t.Errorf("%s: consumer of %s: %+v, plan %+v", pr.Name, c.Queue, got, c)
			}
		}
		if _, ok := w.Secrets[contract.AuthToken]; ok {
			t.Errorf("%s: AUTH_TOKEN bound without a token", pr.Name)
		}
	}

	// The demo's async pipeline, spelled out: the plan's numbers, its DLQ.
	ew := p.Product("email-worker")
	w, _, _ := buildWorker(ew, "/x/worker.js", 0, "", devSecrets{APIKey: "k", AuthToken: "t"})
	data, _ := json.Marshal(w.Options)
	for _, want := range []string{
		`"queueProducers":{"JOB_QUEUE":{"queueName":"email-worker-demo-jobs"}}`,
		`"email-worker-demo-jobs":{"maxBatchSize":1,"maxBatchTimeout":10,"maxRetries":3,"retryDelay":30,"deadLetterQueue":"email-worker-demo-jobs-dlq"}`,
		`"email-worker-demo-jobs-dlq":{"maxBatchSize":1,"maxBatchTimeout":10,"maxRetries":3}`,
		`"ANTHROPIC_BASE_URL":"https://api.anthropic.com"`,
		`"analyticsEngineDatasets":{"MODEL_USAGE":{"dataset":"zerocost_model_usage"}}`,
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("email-worker options lack %s:\n%s", want, data)
		}
	}
	if w.Secrets[contract.AuthToken] != secretEnv(contract.AuthToken) {
		t.Errorf("ZEROCOST_AUTH_TOKEN did not bind AUTH_TOKEN: %v", w.Secrets)
	}
	env := secretValues([]runnerWorker{w}, devSecrets{APIKey: "k", AuthToken: "t"})
	if strings.Join(env, " ") != "ZEROCOST_DEV_SECRET_ANTHROPIC_API_KEY=k ZEROCOST_DEV_SECRET_AUTH_TOKEN=t" {
		t.Errorf("secret env %v", env)
	}

	// A binding type the runtime does not know is an error, not a silent gap.
	odd := *ew
	odd.Bindings = append(append([]plan.Binding(nil), ew.Bindings...), plan.Binding{Type: "d9", Name: "DB", Target: "x"})
	if _, _, err := buildWorker(&odd, "/x/worker.js", 0, "", devSecrets{}); err == nil || !strings.Contains(err.Error(), "DB") {
		t.Errorf("unknown binding type: %v", err)
	}
}

// BUDGET_ALERT_WEBHOOK in dev: a product's own token-free URL is bound as
// is; the stack's secret comes from ZEROCOST_BUDGET_ALERT_WEBHOOK, which
// also gives it to Workers with a spend guard when the stack sets none;
// without it the binding is left out, with a note.
func TestBudgetWebhookInDev(t *testing.T) {
	cfg, err := stack.FromValues("demo", map[string]stack.Value{
		"accountId":          {Text: "0123456789abcdef0123456789abcdef"},
		"monthlyBudgetUsd":   {Text: "10"},
		"budgetAlertWebhook": {Secret: true},
		"products": {Text: `[{"name":"a","pattern":"edge-cache","settings":{"budgetAlertWebhook":"http://127.0.0.1:8787/hook"}},
			{"name":"b","pattern":"event-agent"}]`},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, b := p.Product("a"), p.Product("b")
	w, _, _ := buildWorker(a, "/x/worker.js", 0, "", devSecrets{APIKey: "k", BudgetAlertWebhook: "https://hooks.example/T"})
	if w.Options.Bindings[contract.BudgetAlertWebhook] != "http://127.0.0.1:8787/hook" || w.Secrets[contract.BudgetAlertWebhook] != "" {
		t.Errorf("a: the product's own URL not bound: %+v %v", w.Options.Bindings, w.Secrets)
	}
	w, _, _ = buildWorker(b, "/x/worker.js", 0, "", devSecrets{APIKey: "k", BudgetAlertWebhook: "https://hooks.example/T"})
	if w.Secrets[contract.BudgetAlertWebhook] != secretEnv(contract.BudgetAlertWebhook) {
		t.Errorf("b: the stack's webhook not bound from the environment: %v", w.Secrets)
	}
	env := secretValues([]runnerWorker{w}, devSecrets{APIKey: "k", BudgetAlertWebhook: "https://hooks.example/T"})
	if strings.Join(env, " ") != "ZEROCOST_DEV_SECRET_ANTHROPIC_API_KEY=k ZEROCOST_DEV_SECRET_BUDGET_ALERT_WEBHOOK=https://hooks.example/T" {
		t.Errorf("secret env %v", env)
	}
	data, _ := json.Marshal(w.Options)
	if strings.Contains(string(data), "hooks.example") {
		t.Errorf("the secret webhook reached the runner config: %s", data)
	}
	w, notes, _ := buildWorker(b, "/x/worker.js", 0, "", devSecrets{APIKey: "k"})
	if _, ok := w.Secrets[contract.BudgetAlertWebhook]; ok || len(notes) != 1 || !strings.Contains(notes[0], "ZEROCOST_BUDGET_ALERT_WEBHOOK") {
		t.Errorf("b without the env var: secrets %v, notes %v", w.Secrets, notes)
	}
	if w.Options.D1Databases[contract.Spend] != render.LocalDatabaseID("zerocost-demo-spend") {
		t.Errorf("SPEND: %v", w.Options.D1Databases)
	}
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadState(dir, "demo"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("no file: %v", err)
	}
	s := &State{Stack: "demo", PID: os.Getpid(), StartedAt: time.Now().UTC().Truncate(time.Second),
		Model:    ModelInfo{URL: "http://127.0.0.1:1", StandIn: true},
		Products: []Product{{Name: "a", Pattern: "edge-cache", URL: "http://127.0.0.1:2"}}}
	path := StatePath(dir, "demo")
	if path != filepath.Join(dir, ".zerocost", "dev", "demo.json") {
		t.Errorf("path %s", path)
	}
	if err := writeState(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := ReadState(dir, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if got.Stack != "demo" || got.PID != s.PID || !got.StartedAt.Equal(s.StartedAt) || got.Model != s.Model || got.Product("a") == nil || got.Product("a").URL != "http://127.0.0.1:2" {
		t.Errorf("read back %+v", got)
	}
	raw, _ := os.ReadFile(path)
	for _, k := range []string{`"stack"`, `"pid"`, `"started_at"`, `"model"`, `"url"`, `"stand_in"`, `"products"`, `"name"`, `"pattern"`} {
		if !strings.Contains(string(raw), k) {
			t.Errorf("state file lacks %s: %s", k, raw)
		}
	}

	// A file left by a process that has exited reads as not running.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no `true` command:", err)
	}
	s.PID = cmd.Process.Pid
	if err := writeState(path, s); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadState(dir, "demo"); !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "exited") {
		t.Errorf("stale file: %v", err)
	}
}

// Without Node >= 22.12 and workers-src/node_modules, Start fails with a
// usage error (exit 2 in the command) that says what to do.
func TestStartWithoutTools(t *testing.T) {
	t.Setenv("ZEROCOST_NODE", "")
	_, err := Start(t.Context(), Options{ProjectDir: projectDir, Stack: "demo", ToolsDir: t.TempDir(), DataDir: t.TempDir()})
	if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), "make deps") {
		t.Errorf("got %v", err)
	}
}

func TestStartBadOptions(t *testing.T) {
	for _, o := range []Options{
		{ProjectDir: projectDir, Stack: "nope"},
		{ProjectDir: projectDir},
		{ProjectDir: projectDir, Stack: "demo", PortBase: 65534},
	} {
		o.DataDir = t.TempDir()
		if _, err := Start(t.Context(), o); err == nil || !IsUsage(err) {
			t.Errorf("%+v: %v", o, err)
		}
	}
	o := Options{ProjectDir: projectDir, Stack: "demo", DataDir: t.TempDir()}
	o.StandIn.ErrorRate = 2
	if _, err := Start(t.Context(), o); err == nil || !IsUsage(err) || !strings.Contains(err.Error(), "error rate") {
		t.Errorf("error rate 2: %v", err)
	}
}

// Every binding kind of the plan runs in dev.
func TestEveryKindRunsInDev(t *testing.T) {
	plantest.CheckKinds(t, "zerocost dev (miniflareBindings)", miniflareBindings)
}
