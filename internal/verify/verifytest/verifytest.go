// Package verifytest helps the tests of verify and of the verify command:
// Workers runs a plan's real Workers on workerd (the local runtime of
// `zerocost dev`) for one test, Shared for all the tests of a package, Break
// puts a proxy in front of one that breaks what real Workers never break,
// and Deploy seeds a fake Cloudflare account
// (internal/cftest) with exactly what a plan deploys, through a per-kind
// table held to plan.Kinds.
package verifytest

import (
	"encoding/json"
	"net"
	"testing"

	"github.com/zerocost/zerocost/internal/cftest"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan"
)

// RefusedURL is an address nothing listens on.
func RefusedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// Deploy seeds the fake account with exactly what the plan deploys, as the
// Pulumi program in infra/ would (zone routes and custom domains go to the
// zones the plan names), and returns the stack outputs.
func Deploy(t testing.TB, s *cftest.Server, p *plan.Plan) outputs.Stack {
	t.Helper()
	acct := p.AccountID
	s.AddAccount(acct)
	s.SetSubdomain(acct, p.WorkersDevSubdomain)
	out := outputs.Stack{}
	var spend *cftest.D1Database
	if p.SpendDatabase != nil {
		db := s.AddD1Database(acct, p.SpendDatabase.Name)
		spend = &db
	}
	for _, pr := range p.Products {
		op := outputs.Product{Pattern: pr.Pattern, Script: pr.Script, URL: pr.URL,
			R2Buckets: map[string]string{}, QueueIDs: map[string]string{}}
		if spend != nil {
			op.D1DatabaseIDs = map[string]string{p.SpendDatabase.Binding: spend.UUID}
		}
		for _, ns := range pr.KVNamespaces {
			if op.KVNamespaceIDs == nil {
				op.KVNamespaceIDs = map[string]string{}
			}
			op.KVNamespaceIDs[ns.Binding] = s.AddKVNamespace(acct, ns.Title).ID
		}
		for _, b := range pr.R2Buckets {
			s.AddBucket(acct, b.Name)
			s.SetBucketLifecycle(acct, b.Name, lifecycleJSON(pr.Lifecycle))
			op.R2Buckets[b.Binding] = b.Name
		}
		for _, q := range pr.Queues {
			op.QueueIDs[q.Name] = s.AddQueue(acct, q.Name)
		}
		for _, c := range pr.Consumers {
			settings := cftest.ConsumerSettings{BatchSize: c.BatchSize, MaxRetries: c.MaxRetries,
				MaxWaitTimeMs: c.BatchTimeoutSeconds * 1000, RetryDelay: c.RetryDelaySeconds}
			if c.MaxConcurrency > 0 { // as infra/ sets it; unset is null, the platform's maximum
				n := c.MaxConcurrency
				settings.MaxConcurrency = &n
			}
			s.AddConsumer(acct, c.Queue, cftest.Consumer{ScriptName: pr.Script, DeadLetterQueue: c.DeadLetterQueue, Settings: settings})
		}
		var bs []cftest.Binding
		for _, b := range pr.Bindings {
			if b.Type == plan.Workflow {
				s.AddWorkflow(acct, b.Target, b.Class, pr.Script)
			}
			seed, ok := seedBindings[b.Type]
			if !ok {
				t.Fatalf("verifytest: %s: binding %s has type %q, which Deploy cannot seed", pr.Name, b.Name, b.Type)
			}
			cb := cftest.Binding{Type: string(b.Type), Name: b.Name}
			seed(&cb, b, op)
			bs = append(bs, cb)
		}
		s.PutScript(acct, cftest.Script{Name: pr.Script, CompatibilityDate: pr.CompatibilityDate, Bindings: bs, WorkersDev: pr.WorkersDev})
		for _, r := range pr.Routes {
			s.AddZone(r.ZoneID)
			if r.CustomDomain {
				s.AddCustomDomain(acct, cftest.CustomDomain{Hostname: r.Pattern, Service: pr.Script, ZoneID: r.ZoneID, ZoneName: "example.com"})
			} else {
				s.AddRoute(r.ZoneID, r.Pattern, pr.Script)
			}
		}
		out[pr.Name] = op
	}
	return out
}

// seedBindings sets a script binding in the fake API as infra/ deploys it,
// per kind; TestEveryKindIsSeeded fails while a kind of plan.Kinds has none.
var seedBindings = map[plan.Kind]func(cb *cftest.Binding, b plan.Binding, op outputs.Product){
	plan.R2:        func(cb *cftest.Binding, b plan.Binding, _ outputs.Product) { cb.BucketName = b.Target },
	plan.Queue:     func(cb *cftest.Binding, b plan.Binding, _ outputs.Product) { cb.QueueName = b.Target },
	plan.PlainText: func(cb *cftest.Binding, b plan.Binding, _ outputs.Product) { cb.Text = b.Target },
	plan.Secret:    func(cb *cftest.Binding, _ plan.Binding, _ outputs.Product) { cb.Text = "a secret value" },
	plan.RateLimit: func(cb *cftest.Binding, b plan.Binding, _ outputs.Product) {
		cb.NamespaceID, cb.Simple = b.Target, &cftest.RateLimitSimple{Limit: b.Limit, Period: b.Period}
	},
	plan.Analytics: func(cb *cftest.Binding, b plan.Binding, _ outputs.Product) { cb.Dataset = b.Target },
	// infra/ binds the database it created by its uuid.
	plan.D1: func(cb *cftest.Binding, b plan.Binding, op outputs.Product) { cb.ID = op.D1DatabaseIDs[b.Name] },
	// infra/ binds the namespace it created by its id.
	plan.KV: func(cb *cftest.Binding, b plan.Binding, op outputs.Product) {
		cb.NamespaceID = op.KVNamespaceIDs[b.Name]
	},
	// The API keeps the fields it does not type (the fake: in Extra).
	plan.Workflow: func(cb *cftest.Binding, b plan.Binding, _ outputs.Product) {
		cb.Extra = map[string]json.RawMessage{"workflow_name": jsonString(b.Target), "class_name": jsonString(b.Class)}
	},
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// lifecycleJSON is the rules as the provider PUTs them.
func lifecycleJSON(rules []plan.LifecycleRule) json.RawMessage {
	type cond struct {
		MaxAge int    `json:"maxAge"`
		Type   string `json:"type"`
	}
	type rule struct {
		Conditions struct {
			Prefix string `json:"prefix"`
		} `json:"conditions"`
		DeleteObjectsTransition struct {
			Condition cond `json:"condition"`
		} `json:"deleteObjectsTransition"`
		Enabled bool   `json:"enabled"`
		ID      string `json:"id"`
	}
	out := []rule{}
	for _, r := range rules {
		var x rule
		x.Conditions.Prefix, x.Enabled, x.ID = r.Prefix, true, r.ID
		x.DeleteObjectsTransition.Condition = cond{MaxAge: r.MaxAgeSeconds(), Type: "Age"}
		out = append(out, x)
	}
	b, _ := json.Marshal(out)
	return b
}
