// Package verifytest helps the tests of verify and of the verify command:
// Workers runs a plan's real Workers on workerd (the local runtime of
// `zerocost dev`), Break puts a proxy in front of one that breaks what real
// Workers never break, and Deploy seeds a fake Cloudflare account
// (internal/cftest) with exactly what a plan deploys, through a per-kind
// table held to plan.Kinds.
package verifytest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/zerocost/zerocost/internal/cftest"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/stack"
)

// Worker is a Go stand-in of one product's Worker: GET /health, the bearer
// token, 404/405 and JSON errors as in lib/app.ts, and each pattern's routes,
// with every job done at its first poll.
//
// Deprecated: it re-implements the Workers' HTTP contract. Only the tests of
// internal/cmd/verify still use it (through Serve): they poll without pausing
// (Options.Sleep), which real Workers cannot keep up with. Tests that need a
// Worker run the real ones (Workers) and break them with Break.
type Worker struct {
	Pattern, Product string
	// Token is the AUTH_TOKEN secret ("" = no auth).
	Token string

	mu      sync.Mutex
	jobs    map[string]bool
	cache   map[string]string
	nextJob int
}

// NewWorker returns the stand-in of the product's Worker.
func NewWorker(pattern, product string) *Worker {
	return &Worker{Pattern: pattern, Product: product, jobs: map[string]bool{}, cache: map[string]string{}}
}

func writeJSON(w http.ResponseWriter, status int, v any, headers ...string) {
	for i := 0; i+1 < len(headers); i += 2 {
		w.Header().Set(headers[i], headers[i+1])
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func errorBody(code, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": msg}}
}

var jobPath = regexp.MustCompile(`^/jobs/([^/]+)$`)

// normalize is lib/cachekey.ts's normalizeInput, without NFKC.
func normalize(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPunct(r) || unicode.IsControl(r) {
			return -1
		}
		if unicode.IsSpace(r) {
			return ' '
		}
		return unicode.ToLower(r)
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// ServeHTTP answers like the Worker.
func (f *Worker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == "GET" && r.URL.Path == "/health" {
		writeJSON(w, 200, map[string]any{"pattern": f.Pattern, "product": f.Product})
		return
	}
	if f.Token != "" && r.Header.Get("Authorization") != "Bearer "+f.Token {
		writeJSON(w, 401, errorBody("unauthorized", "missing or invalid bearer token"), "WWW-Authenticate", `Bearer realm="zerocost"`)
		return
	}
	post := "/jobs"
	if f.Pattern == stack.EdgeCache {
		post = "/ask"
	}
	switch {
	case r.URL.Path == post && r.Method == "POST":
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, 400, errorBody("invalid_json", "request body is not valid JSON"))
			return
		}
		f.post(w, body)
	case r.URL.Path == post:
		writeJSON(w, 405, errorBody("method_not_allowed", "method not allowed"), "Allow", "POST")
	case f.Pattern != stack.EdgeCache && jobPath.MatchString(r.URL.Path) && r.Method == "GET":
		id := jobPath.FindStringSubmatch(r.URL.Path)[1]
		if !f.jobs[id] {
			writeJSON(w, 404, errorBody("not_found", "no job "+id))
			return
		}
		writeJSON(w, 200, map[string]any{"job_id": id, "status": "done", "result": map[string]any{"text": "an answer"}})
	default:
		writeJSON(w, 404, errorBody("not_found", "no route for "+r.URL.Path))
	}
}

func (f *Worker) newJob() string {
	f.nextJob++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", f.nextJob)
	f.jobs[id] = true
	return id
}

func (f *Worker) post(w http.ResponseWriter, body map[string]any) {
	switch f.Pattern {
	case stack.EventAgent, stack.EdgeCache:
		in, _ := body["input"].(string)
		if strings.TrimSpace(in) == "" {
			writeJSON(w, 400, errorBody("invalid_input", "input must not be empty"))
			return
		}
		if f.Pattern == stack.EventAgent {
			writeJSON(w, 202, map[string]any{"job_id": f.newJob(), "status": "queued"})
			return
		}
		key := normalize(in)
		if a, ok := f.cache[key]; ok {
			writeJSON(w, 200, map[string]any{"answer": a}, "X-Cache", "HIT")
			return
		}
		f.cache[key] = fmt.Sprintf("answer %d", len(f.cache)+1)
		writeJSON(w, 200, map[string]any{"answer": f.cache[key]}, "X-Cache", "MISS")
	case stack.AsyncPipeline:
		list, ok := body["inputs"].([]any)
		if !ok || len(list) == 0 {
			writeJSON(w, 400, errorBody("invalid_input", "inputs must not be empty"))
			return
		}
		var ids []string
		for range list {
			ids = append(ids, f.newJob())
		}
		writeJSON(w, 202, map[string]any{"job_ids": ids, "status": "queued"})
	}
}

// Serve starts a stand-in Worker per plan product (tweak, when set, adjusts
// them) and returns their URLs and the stand-ins, by product.
//
// Deprecated: see Worker; use Workers.
func Serve(t testing.TB, p *plan.Plan, tweak func(product string, f *Worker)) (map[string]string, map[string]*Worker) {
	t.Helper()
	urls := map[string]string{}
	fakes := map[string]*Worker{}
	for _, pr := range p.Products {
		f := NewWorker(pr.Pattern, pr.Name)
		if tweak != nil {
			tweak(pr.Name, f)
		}
		srv := httptest.NewServer(f)
		t.Cleanup(srv.Close)
		urls[pr.Name] = srv.URL
		fakes[pr.Name] = f
	}
	return urls, fakes
}

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
	for _, pr := range p.Products {
		op := outputs.Product{Pattern: pr.Pattern, Script: pr.Script, URL: pr.URL,
			KVNamespaceIDs: map[string]string{}, R2Buckets: map[string]string{}, QueueIDs: map[string]string{}}
		for _, kv := range pr.KVNamespaces {
			op.KVNamespaceIDs[kv.Binding] = s.AddKVNamespace(acct, kv.Title).ID
		}
		for _, b := range pr.R2Buckets {
			s.AddBucket(acct, b.Name)
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
	plan.KV: func(cb *cftest.Binding, b plan.Binding, op outputs.Product) {
		cb.NamespaceID = op.KVNamespaceIDs[b.Name]
	},
	plan.R2:        func(cb *cftest.Binding, b plan.Binding, _ outputs.Product) { cb.BucketName = b.Target },
	plan.Queue:     func(cb *cftest.Binding, b plan.Binding, _ outputs.Product) { cb.QueueName = b.Target },
	plan.PlainText: func(cb *cftest.Binding, b plan.Binding, _ outputs.Product) { cb.Text = b.Target },
	plan.Secret:    func(cb *cftest.Binding, _ plan.Binding, _ outputs.Product) { cb.Text = "a secret value" },
	plan.RateLimit: func(cb *cftest.Binding, b plan.Binding, _ outputs.Product) {
		cb.NamespaceID, cb.Simple = b.Target, &cftest.RateLimitSimple{Limit: b.Limit, Period: b.Period}
	},
	plan.Analytics: func(cb *cftest.Binding, b plan.Binding, _ outputs.Product) { cb.Dataset = b.Target },
}
