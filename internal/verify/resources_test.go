package verify

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cftest"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/plan/plantest"
	"github.com/zerocost/zerocost/internal/verify/verifytest"
)

const (
	apiToken = "cf-token"
	// acct is the account verifytest.Deploy deploys into (the demo stack's).
	acct   = "0123456789abcdef0123456789abcdef"
	zoneID = "fedcba9876543210fedcba9876543210"
)

// routedPlan is the demo plan with a zone route on sales-engine and a custom
// domain on ai-relay (the demo stack itself uses workers.dev only).
func routedPlan(t *testing.T) *plan.Plan {
	p := demoPlan(t)
	p.Product("sales-engine").Routes = []plan.Route{{Pattern: "sales.example.com/*", ZoneID: zoneID}}
	p.Product("ai-relay").Routes = []plan.Route{{Pattern: "relay.example.com", ZoneID: zoneID, CustomDomain: true}}
	return p
}

func deploy(t *testing.T, s *cftest.Server, p *plan.Plan) outputs.Stack {
	return verifytest.Deploy(t, s, p)
}

func resourceRun(t *testing.T, p *plan.Plan, s *cftest.Server, out outputs.Stack, token string) *Report {
	t.Helper()
	rep, err := Run(testCtx(t), Options{Plan: p, SkipRoutes: true, Outputs: out,
		Resources: cfapi.New(cfapi.Config{Token: token, BaseURL: s.BaseURL(), MaxRetries: 0})})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestResourcesAllPass(t *testing.T) {
	p := routedPlan(t)
	s := cftest.New(t, cftest.WithToken(apiToken), cftest.WithMaxPerPage(2))
	out := deploy(t, s, p)
	for _, withOutputs := range []bool{true, false} {
		o := out
		if !withOutputs {
			o = nil
		}
		rep := resourceRun(t, p, s, o, apiToken)
		if !rep.Passed {
			t.Errorf("outputs %v: failed %+v", withOutputs, rep.Failed())
		}
		for _, c := range rep.Checks {
			if c.Kind != KindResource {
				t.Errorf("%s/%s kind %s", c.Product, c.Check, c.Kind)
			}
		}
		want := "r2 bucket email-worker-demo-outputs,r2 lifecycle email-worker-demo-outputs,queue email-worker-demo-jobs," +
			"dead-letter queue email-worker-demo-jobs-dlq,d1 database zerocost-demo-spend,kv namespace email-worker-demo-keys,consumer of email-worker-demo-jobs,consumer of email-worker-demo-jobs-dlq," +
			"worker email-worker-demo,workers.dev"
		if got := strings.Join(names(rep, "email-worker"), ","); got != want {
			t.Errorf("email-worker checks:\n%s\nwant\n%s", got, want)
		}
		if got := names(rep, "sales-engine"); !slices.Contains(got, "route sales.example.com/*") {
			t.Errorf("sales-engine checks %v", got)
		}
		if got := names(rep, "ai-relay"); !slices.Contains(got, "custom domain relay.example.com") {
			t.Errorf("ai-relay checks %v", got)
		}
	}
	// The account was read once: one listing per kind (R2 spans pages of 2).
	count := map[string]int{}
	for _, r := range s.Requests() {
		if strings.HasSuffix(r.Path, "/workers/subdomain") {
			count["subdomain"]++
		}
		if strings.HasSuffix(r.Path, "/r2/buckets") {
			count["r2"]++
		}
	}
	if count["subdomain"] != 2 || count["r2"] != 2*2 { // two runs; 4 buckets in pages of 2
		t.Errorf("requests %v", count)
	}
}

func TestResourceDrift(t *testing.T) {
	cases := []struct {
		name, product, check string
		change               func(s *cftest.Server, out outputs.Stack)
		drift                Drift
	}{
		{"missing bucket", "ai-relay", "r2 bucket ai-relay-demo-outputs", inAccount(acct, func(a *cftest.Account) {
			a.Buckets = slices.DeleteFunc(a.Buckets, func(b cftest.Bucket) bool { return b.Name == "ai-relay-demo-outputs" })
		}), Drift{Kind: Missing, Name: "R2 bucket ai-relay-demo-outputs"}},
		{"lifecycle rules removed", "ai-relay", "r2 lifecycle ai-relay-demo-outputs", func(s *cftest.Server, _ outputs.Stack) {
			s.SetBucketLifecycle(acct, "ai-relay-demo-outputs", json.RawMessage("null"))
		}, Drift{Kind: Missing, Name: "lifecycle rule answers of ai-relay-demo-outputs", Expected: `"answers/" after 1 day`}},
		{"lifecycle age changed", "email-worker", "r2 lifecycle email-worker-demo-outputs", func(s *cftest.Server, _ outputs.Stack) {
			s.SetBucketLifecycle(acct, "email-worker-demo-outputs", json.RawMessage(
				`[{"id":"jobs","enabled":true,"conditions":{"prefix":"jobs/"},"deleteObjectsTransition":{"condition":{"type":"Age","maxAge":86400}}},`+
					`{"id":"held","enabled":true,"conditions":{"prefix":"held/"},"deleteObjectsTransition":{"condition":{"type":"Age","maxAge":2678400}}},`+
					`{"id":"batches","enabled":true,"conditions":{"prefix":"batches/"},"deleteObjectsTransition":{"condition":{"type":"Age","maxAge":2592000}}}]`))
		}, Drift{Kind: Mismatched, Name: "lifecycle rule jobs of email-worker-demo-outputs", Expected: `"jobs/" after 7 days`, Actual: `"jobs/" after 1 day`}},
		{"extra lifecycle rule", "ai-relay", "r2 lifecycle ai-relay-demo-outputs", func(s *cftest.Server, _ outputs.Stack) {
			s.SetBucketLifecycle(acct, "ai-relay-demo-outputs", json.RawMessage(
				`[{"id":"answers","enabled":true,"conditions":{"prefix":"answers/"},"deleteObjectsTransition":{"condition":{"type":"Age","maxAge":86400}}},`+
					`{"id":"all","enabled":true,"conditions":{"prefix":""},"deleteObjectsTransition":{"condition":{"type":"Age","maxAge":3600}}}]`))
		}, Drift{Kind: Extra, Name: "lifecycle rule all of ai-relay-demo-outputs", Actual: `"" after 3600 s`}},
		{"extra binding", "sales-engine", "worker sales-engine-demo", addBinding(acct, "sales-engine-demo", cftest.Binding{Type: "plain_text", Name: "DEBUG", Text: "1"}), Drift{Kind: Extra, Name: "binding DEBUG", Actual: "plain_text"}},
		{"missing secret", "delivery-worker", "worker delivery-worker-demo", dropBinding(acct, "delivery-worker-demo", "ANTHROPIC_API_KEY"), Drift{Kind: Missing, Name: "binding ANTHROPIC_API_KEY", Expected: "secret_text"}},
		{"var changed", "ai-relay", "worker ai-relay-demo", func(s *cftest.Server, _ outputs.Stack) {
			setBinding(s, acct, "ai-relay-demo", "MAX_INPUT_CHARS", func(b *cftest.Binding) { b.Text = "8000" })
		}, Drift{Kind: Mismatched, Name: "binding MAX_INPUT_CHARS text", Expected: `"4000"`, Actual: `"8000"`}},
		{"binding type changed", "ai-relay", "worker ai-relay-demo", func(s *cftest.Server, _ outputs.Stack) {
			setBinding(s, acct, "ai-relay-demo", "MODEL", func(b *cftest.Binding) { b.Type = "secret_text" })
		}, Drift{Kind: Mismatched, Name: "binding MODEL type", Expected: "plain_text", Actual: "secret_text"}},
		{"rate limit changed", "sales-engine", "worker sales-engine-demo", func(s *cftest.Server, _ outputs.Stack) {
			setBinding(s, acct, "sales-engine-demo", "RATE_LIMITER", func(b *cftest.Binding) { b.Simple = &cftest.RateLimitSimple{Limit: 1000, Period: 60} })
		}, Drift{Kind: Mismatched, Name: "binding RATE_LIMITER simple", Expected: "limit 60 per 60 s", Actual: "limit 1000 per 60 s"}},
		{"R2 binding to another bucket", "email-worker", "worker email-worker-demo", func(s *cftest.Server, _ outputs.Stack) {
			setBinding(s, acct, "email-worker-demo", "OUTPUTS", func(b *cftest.Binding) { b.BucketName = "other" })
		}, Drift{Kind: Mismatched, Name: "binding OUTPUTS bucket_name", Expected: `"email-worker-demo-outputs"`, Actual: `"other"`}},
		{"KV binding left by an older deploy", "email-worker", "worker email-worker-demo", addBinding(acct, "email-worker-demo", cftest.Binding{Type: "kv_namespace", Name: "JOBS", NamespaceID: "ffff"}), Drift{Kind: Extra, Name: "binding JOBS", Actual: "kv_namespace"}},
		{"consumer batch size", "email-worker", "consumer of email-worker-demo-jobs", func(s *cftest.Server, _ outputs.Stack) {
			s.Update(func(st *State) { queue(st, acct, "email-worker-demo-jobs").Consumers[0].Settings.BatchSize = 10 })
		}, Drift{Kind: Mismatched, Name: "settings.batch_size", Expected: "1", Actual: "10"}},
		{"consumer wait time in seconds", "email-worker", "consumer of email-worker-demo-jobs", func(s *cftest.Server, _ outputs.Stack) {
			s.Update(func(st *State) { queue(st, acct, "email-worker-demo-jobs").Consumers[0].Settings.MaxWaitTimeMs = 10 })
		}, Drift{Kind: Mismatched, Name: "settings.max_wait_time_ms", Expected: "10000", Actual: "10"}},
		{"consumer DLQ", "email-worker", "consumer of email-worker-demo-jobs", func(s *cftest.Server, _ outputs.Stack) {
			s.Update(func(st *State) { queue(st, acct, "email-worker-demo-jobs").Consumers[0].DeadLetterQueue = "" })
		}, Drift{Kind: Mismatched, Name: "dead_letter_queue", Expected: `"email-worker-demo-jobs-dlq"`, Actual: "none"}},
		{"extra consumer", "email-worker", "consumer of email-worker-demo-jobs-dlq", func(s *cftest.Server, _ outputs.Stack) {
			s.AddConsumer(acct, "email-worker-demo-jobs-dlq", cftest.Consumer{ScriptName: "someone-else"})
		}, Drift{Kind: Extra, Name: "consumer of email-worker-demo-jobs-dlq"}},
		{"missing consumer", "email-worker", "consumer of email-worker-demo-jobs-dlq", func(s *cftest.Server, _ outputs.Stack) {
			s.Update(func(st *State) { queue(st, acct, "email-worker-demo-jobs-dlq").Consumers = nil })
		}, Drift{Kind: Missing, Name: "consumer of email-worker-demo-jobs-dlq", Expected: "Worker email-worker-demo"}},
		{"missing DLQ", "email-worker", "dead-letter queue email-worker-demo-jobs-dlq", inAccount(acct, func(a *cftest.Account) {
			a.Queues = slices.DeleteFunc(a.Queues, func(q *cftest.Queue) bool { return q.Name == "email-worker-demo-jobs-dlq" })
		}), Drift{Kind: Missing, Name: "dead-letter queue email-worker-demo-jobs-dlq"}},
		{"queue id differs from the outputs", "email-worker", "queue email-worker-demo-jobs", func(_ *cftest.Server, out outputs.Stack) {
			out["email-worker"].QueueIDs["email-worker-demo-jobs"] = "old-id"
		}, Drift{Kind: Mismatched, Name: "queue email-worker-demo-jobs id", Expected: "old-id (stack outputs)"}},
		{"missing worker", "delivery-worker", "worker delivery-worker-demo", inAccount(acct, func(a *cftest.Account) {
			a.Scripts = slices.DeleteFunc(a.Scripts, func(sc *cftest.Script) bool { return sc.Name == "delivery-worker-demo" })
		}), Drift{Kind: Missing, Name: "Worker delivery-worker-demo"}},
		{"workers.dev off", "email-worker", "workers.dev", func(s *cftest.Server, _ outputs.Stack) {
			s.Update(func(st *State) { script(st, acct, "email-worker-demo").WorkersDev = false })
		}, Drift{Kind: Missing, Name: "workers.dev route of email-worker-demo", Expected: "enabled"}},
		{"missing route", "sales-engine", "route sales.example.com/*", func(s *cftest.Server, _ outputs.Stack) {
			s.Update(func(st *State) { st.Zones[zoneID].Routes = nil })
		}, Drift{Kind: Missing, Name: "route sales.example.com/*", Expected: "zone " + zoneID}},
		{"route to another script", "sales-engine", "route sales.example.com/*", func(s *cftest.Server, _ outputs.Stack) {
			s.Update(func(st *State) { st.Zones[zoneID].Routes[0].Script = "other" })
		}, Drift{Kind: Mismatched, Name: "route sales.example.com/* script", Expected: "sales-engine-demo", Actual: `"other"`}},
		{"extra route", "sales-engine", "route sales.example.com/*", func(s *cftest.Server, _ outputs.Stack) {
			s.AddRoute(zoneID, "old.example.com/*", "sales-engine-demo")
		}, Drift{Kind: Extra, Name: "route old.example.com/*", Actual: "to sales-engine-demo"}},
		{"missing spend database", "ai-relay", "d1 database zerocost-demo-spend", inAccount(acct, func(a *cftest.Account) {
			a.D1Databases = nil
		}), Drift{Kind: Missing, Name: "D1 database zerocost-demo-spend", Expected: "the stack's spend database"}},
		{"spend database id differs from the outputs", "ai-relay", "d1 database zerocost-demo-spend", func(_ *cftest.Server, out outputs.Stack) {
			out["ai-relay"].D1DatabaseIDs["SPEND"] = "old-id"
		}, Drift{Kind: Mismatched, Name: "D1 database zerocost-demo-spend id", Expected: "old-id (stack outputs)"}},
		{"SPEND bound to another database", "email-worker", "worker email-worker-demo", func(s *cftest.Server, _ outputs.Stack) {
			other := s.AddD1Database(acct, "someone-elses-db")
			setBinding(s, acct, "email-worker-demo", "SPEND", func(b *cftest.Binding) { b.ID = other.UUID })
		}, Drift{Kind: Mismatched, Name: "binding SPEND id"}},
		{"missing SPEND binding", "delivery-worker", "worker delivery-worker-demo", dropBinding(acct, "delivery-worker-demo", "SPEND"), Drift{Kind: Missing, Name: "binding SPEND", Expected: "d1"}},
		{"missing keys namespace", "ai-relay", "kv namespace ai-relay-demo-keys", inAccount(acct, func(a *cftest.Account) {
			a.KVNamespaces = slices.DeleteFunc(a.KVNamespaces, func(ns cftest.KVNamespace) bool { return ns.Title == "ai-relay-demo-keys" })
		}), Drift{Kind: Missing, Name: "KV namespace ai-relay-demo-keys", Expected: "the product's customer keys, bound as KEYS"}},
		{"KEYS bound to another namespace", "email-worker", "worker email-worker-demo", func(s *cftest.Server, _ outputs.Stack) {
			other := s.AddKVNamespace(acct, "someone-elses-kv")
			setBinding(s, acct, "email-worker-demo", "KEYS", func(b *cftest.Binding) { b.NamespaceID = other.ID })
		}, Drift{Kind: Mismatched, Name: "binding KEYS namespace_id"}},
		{"missing KEYS binding", "sales-engine", "worker sales-engine-demo", dropBinding(acct, "sales-engine-demo", "KEYS"), Drift{Kind: Missing, Name: "binding KEYS", Expected: "kv_namespace"}},
		{"missing custom domain", "ai-relay", "custom domain relay.example.com", func(s *cftest.Server, _ outputs.Stack) {
			s.Update(func(st *State) { st.Accounts[acct].CustomDomains = nil })
		}, Drift{Kind: Missing, Name: "custom domain relay.example.com"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := routedPlan(t)
			s := cftest.New(t, cftest.WithToken(apiToken))
			out := deploy(t, s, p)
			c.change(s, out)
			rep := resourceRun(t, p, s, out, apiToken)
			if rep.Passed {
				t.Fatal("drift passed")
			}
			got := find(t, rep, c.product, c.check)
			if got.Status != Fail {
				t.Fatalf("%s/%s passed: %s", c.product, c.check, got.Detail)
			}
			if !hasDrift(got.Drift, c.drift) {
				t.Errorf("drift %+v, want %+v", got.Drift, c.drift)
			}
			if !strings.Contains(got.Detail, c.drift.Name) {
				t.Errorf("detail %q does not name %q", got.Detail, c.drift.Name)
			}
		})
	}
}

// State is cftest.State, shortened for the table above.
type State = cftest.State

// inAccount is a change that edits the account's state.
func inAccount(acct string, edit func(a *cftest.Account)) func(*cftest.Server, outputs.Stack) {
	return func(s *cftest.Server, _ outputs.Stack) {
		s.Update(func(st *State) { edit(st.Accounts[acct]) })
	}
}

func script(st *State, acct, name string) *cftest.Script {
	for _, sc := range st.Accounts[acct].Scripts {
		if sc.Name == name {
			return sc
		}
	}
	panic("no script " + name)
}

func queue(st *State, acct, name string) *cftest.Queue {
	for _, q := range st.Accounts[acct].Queues {
		if q.Name == name {
			return q
		}
	}
	panic("no queue " + name)
}

func setBinding(s *cftest.Server, acct, scriptName, binding string, fn func(*cftest.Binding)) {
	s.Update(func(st *State) {
		sc := script(st, acct, scriptName)
		for i := range sc.Bindings {
			if sc.Bindings[i].Name == binding {
				fn(&sc.Bindings[i])
			}
		}
	})
}

// addBinding is a change that appends a binding to the script's bindings.
func addBinding(acct, scriptName string, b cftest.Binding) func(*cftest.Server, outputs.Stack) {
	return func(s *cftest.Server, _ outputs.Stack) {
		s.Update(func(st *State) {
			sc := script(st, acct, scriptName)
			sc.Bindings = append(sc.Bindings, b)
		})
	}
}

// dropBinding is a change that removes a binding from the script's bindings.
func dropBinding(acct, scriptName, binding string) func(*cftest.Server, outputs.Stack) {
	return func(s *cftest.Server, _ outputs.Stack) {
		s.Update(func(st *State) {
			sc := script(st, acct, scriptName)
			sc.Bindings = slices.DeleteFunc(sc.Bindings, func(b cftest.Binding) bool { return b.Name == binding })
		})
	}
}

// hasDrift reports whether ds has want; empty fields of want match anything.
func hasDrift(ds []Drift, want Drift) bool {
	for _, d := range ds {
		if d.Kind == want.Kind && d.Name == want.Name &&
			(want.Expected == "" || d.Expected == want.Expected) && (want.Actual == "" || d.Actual == want.Actual) {
			return true
		}
	}
	return false
}

func TestResourcesBadToken(t *testing.T) {
	p := demoPlan(t)
	s := cftest.New(t, cftest.WithToken(apiToken))
	out := deploy(t, s, p)
	rep := resourceRun(t, p, s, out, "wrong")
	if rep.Passed {
		t.Fatal("passed with a bad token")
	}
	for _, c := range rep.Checks {
		if c.Status != Fail || !strings.Contains(c.Detail, "HTTP 403: Authentication error (code 10000)") || !strings.Contains(c.Detail, "the API token needs") {
			t.Errorf("%s/%s: %s", c.Product, c.Check, c.Detail)
		}
	}
	if d := find(t, rep, "email-worker", "queue email-worker-demo-jobs").Detail; !strings.Contains(d, "Queues Read") {
		t.Errorf("queue check does not name the permission: %s", d)
	}
	if d := find(t, rep, "email-worker", "d1 database zerocost-demo-spend").Detail; !strings.Contains(d, "D1 Read") {
		t.Errorf("d1 check does not name the permission: %s", d)
	}
}

func TestResourcesAndRoutesTogether(t *testing.T) {
	p := demoPlan(t)
	s := cftest.New(t, cftest.WithToken(apiToken))
	out := deploy(t, s, p)
	tg := workers(t, rtDefault).target()
	tg.Name = TargetDeployed
	o := routeOpts(t, tg)
	o.Plan, o.Outputs = p, out
	o.Resources = cfapi.New(cfapi.Config{Token: apiToken, BaseURL: s.BaseURL(), MaxRetries: 0})
	rep, err := Run(testCtx(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed {
		t.Fatalf("failed: %+v", rep.Failed())
	}
	// Per product: route checks first, then resource checks.
	got := names(rep, "ai-relay")
	want := "health,no key,revoked key,method,bad input,cache,r2 bucket ai-relay-demo-outputs,r2 lifecycle ai-relay-demo-outputs,d1 database zerocost-demo-spend,kv namespace ai-relay-demo-keys,worker ai-relay-demo,workers.dev"
	if strings.Join(got, ",") != want {
		t.Errorf("ai-relay checks %v", got)
	}
}

// verifytest.Deploy seeds the consumer settings infra/ sets, max_concurrency
// included, so a plan with one passes; a changed one is drift.
func TestMaxConcurrencyDeployedAndChecked(t *testing.T) {
	p := demoPlan(t)
	ew := p.Product("email-worker")
	ew.Consumers[0].MaxConcurrency = 3
	s := cftest.New(t, cftest.WithToken(apiToken))
	out := deploy(t, s, p)
	if rep := resourceRun(t, p, s, out, apiToken); !rep.Passed {
		t.Fatalf("a plan with max_concurrency failed as deployed: %+v", rep.Failed())
	}
	s.Update(func(st *State) {
		n := 5
		queue(st, acct, "email-worker-demo-jobs").Consumers[0].Settings.MaxConcurrency = &n
	})
	got := find(t, resourceRun(t, p, s, out, apiToken), "email-worker", "consumer of email-worker-demo-jobs")
	if !hasDrift(got.Drift, Drift{Kind: Mismatched, Name: "settings.max_concurrency", Expected: "3", Actual: "5"}) {
		t.Errorf("drift %+v", got.Drift)
	}
}

// Every binding kind of the plan is compared with the API's.
func TestEveryKindIsCompared(t *testing.T) {
	plantest.CheckKinds(t, "verify (driftChecks)", driftChecks)
}
