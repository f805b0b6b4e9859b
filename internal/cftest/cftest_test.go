package cftest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/queues"
	"github.com/cloudflare/cloudflare-go/v7/r2"
	"github.com/cloudflare/cloudflare-go/v7/workers"
)

const (
	acct  = "0123456789abcdef0123456789abcdef"
	zone  = "fedcba9876543210fedcba9876543210"
	token = "test-token"
)

func get(t *testing.T, s *Server, method, path, tok string) (int, map[string]any) {
	t.Helper()
	return do(t, s, method, path, tok, "")
}

// do sends one request (with a JSON body when body is not empty) and decodes
// the JSON answer.
func do(t *testing.T, s *Server, method, path, tok, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.URL+"/client/v4"+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, b := send(t, req, tok)
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: content type %q", method, path, ct)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, path, b)
	}
	return res.StatusCode, out
}

// send sends req, with the bearer token tok when it is not empty, and
// returns the answer with its body read.
func send(t *testing.T, req *http.Request, tok string) (*http.Response, []byte) {
	t.Helper()
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func seeded(t *testing.T, opts ...Option) *Server {
	s := New(t, append([]Option{WithToken(token)}, opts...)...)
	s.AddAccount(acct)
	s.AddZone(zone)
	s.AddKVNamespace(acct, "a-demo-jobs")
	s.AddBucket(acct, "a-demo-outputs")
	s.AddQueue(acct, "a-demo-jobs")
	s.AddQueue(acct, "a-demo-jobs-dlq")
	s.AddConsumer(acct, "a-demo-jobs", Consumer{ScriptName: "a-demo", DeadLetterQueue: "a-demo-jobs-dlq",
		Settings: ConsumerSettings{BatchSize: 5, MaxRetries: 3, MaxWaitTimeMs: 10000, RetryDelay: 30}})
	s.PutScript(acct, Script{Name: "a-demo", CompatibilityDate: "2026-06-01", WorkersDev: true, Bindings: []Binding{
		{Type: "kv_namespace", Name: "JOBS", NamespaceID: "abc"},
		{Type: "r2_bucket", Name: "OUTPUTS", BucketName: "a-demo-outputs"},
		{Type: "queue", Name: "JOB_QUEUE", QueueName: "a-demo-jobs"},
		{Type: "plain_text", Name: "PRODUCT", Text: "a"},
		{Type: "secret_text", Name: "ANTHROPIC_API_KEY", Text: "sk-never-shown"},
		{Type: "ratelimit", Name: "RATE_LIMITER", NamespaceID: "1001", Simple: &RateLimitSimple{Limit: 60, Period: 60}},
		{Type: "analytics_engine", Name: "MODEL_USAGE", Dataset: "zerocost_model_usage"},
	}})
	s.SetSubdomain(acct, "zc")
	s.AddRoute(zone, "a.example.com/*", "a-demo")
	s.AddCustomDomain(acct, CustomDomain{Hostname: "b.example.com", Service: "a-demo", ZoneID: zone, ZoneName: "example.com"})
	return s
}

// Every answer the fake gives matches Cloudflare's published schema (with the
// newer shapes the README lists where the 2024 schema is out of date).
func TestAnswersMatchTheSchema(t *testing.T) {
	sp := loadSpec(t)
	s := seeded(t)
	var qid string
	s.Update(func(st *State) { qid = st.Accounts[acct].Queues[0].ID })
	kvID := ""
	s.Update(func(st *State) { kvID = st.Accounts[acct].KVNamespaces[0].ID })

	for _, c := range []struct{ path, specPath string }{
		{"/accounts/" + acct + "/storage/kv/namespaces", "/accounts/{account_id}/storage/kv/namespaces"},
		{"/accounts/" + acct + "/storage/kv/namespaces/" + kvID, "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}"},
		{"/accounts/" + acct + "/queues", "/accounts/{account_id}/queues"},
		{"/accounts/" + acct + "/queues/" + qid, "/accounts/{account_id}/queues/{queue_id}"},
		{"/accounts/" + acct + "/queues/" + qid + "/consumers", "/accounts/{account_id}/queues/{queue_id}/consumers"},
		{"/accounts/" + acct + "/r2/buckets/a-demo-outputs", "/accounts/{account_id}/r2/buckets/{bucket_name}"},
		{"/accounts/" + acct + "/workers/scripts", "/accounts/{account_id}/workers/scripts"},
		{"/accounts/" + acct + "/workers/scripts/a-demo/script-settings", "/accounts/{account_id}/workers/scripts/{script_name}/script-settings"},
		{"/accounts/" + acct + "/workers/subdomain", "/accounts/{account_id}/workers/subdomain"},
		{"/accounts/" + acct + "/workers/domains", "/accounts/{account_id}/workers/domains"},
		{"/zones/" + zone + "/workers/routes", "/zones/{zone_id}/workers/routes"},
	} {
		status, body := get(t, s, "GET", c.path, token)
		if status != 200 {
			t.Errorf("GET %s: %d %v", c.path, status, body)
			continue
		}
		newerQueueShape(t, body)
		if err := sp.validate(any(body), sp.response(c.specPath, "get"), c.specPath); err != nil {
			t.Errorf("GET %s: %v", c.path, err)
		}
	}

	// R2 list: the newer shape, result {buckets: [...]}, with a cursor.
	status, body := get(t, s, "GET", "/accounts/"+acct+"/r2/buckets", token)
	if status != 200 {
		t.Fatalf("r2 list: %d", status)
	}
	if err := sp.validate(any(body), sp.component("r2_v4_response"), "r2 list"); err != nil {
		t.Error(err)
	}
	buckets := body["result"].(map[string]any)["buckets"].([]any)
	if len(buckets) != 1 {
		t.Fatalf("r2 list: %v", body)
	}
	if err := sp.validate(buckets[0], sp.component("r2_bucket"), "bucket"); err != nil {
		t.Error(err)
	}
	if err := sp.validate(body["result_info"], sp.component("r2_result_info"), "r2 result_info"); err != nil {
		t.Error(err)
	}

	// Script settings: the 2024 binding schemas know kv, r2 and queue bindings;
	// the others are checked through cloudflare-go below.
	status, body = get(t, s, "GET", "/accounts/"+acct+"/workers/scripts/a-demo/settings", token)
	if status != 200 {
		t.Fatalf("settings: %d", status)
	}
	var known []any
	for _, b := range body["result"].(map[string]any)["bindings"].([]any) {
		m := b.(map[string]any)
		switch m["type"] {
		case "kv_namespace", "r2_bucket", "queue":
			known = append(known, m)
		case "secret_text":
			if _, has := m["text"]; has {
				t.Errorf("a secret's text is shown: %v", m)
			}
		}
	}
	body["result"].(map[string]any)["bindings"] = known
	if err := sp.validate(any(body), sp.response("/accounts/{account_id}/workers/scripts/{script_name}/settings", "get"), "settings"); err != nil {
		t.Error(err)
	}
	if len(known) != 3 {
		t.Errorf("bindings %v", known)
	}
}

// newerQueueShape checks that queues list consumers and producers as arrays
// (the current API; the 2024 schema says objects) and drops them before the
// schema check.
func newerQueueShape(t *testing.T, body map[string]any) {
	t.Helper()
	var qs []any
	switch r := body["result"].(type) {
	case []any:
		qs = r
	case map[string]any:
		qs = []any{r}
	}
	for _, q := range qs {
		m, ok := q.(map[string]any)
		if _, isQueue := m["consumers_total_count"]; !ok || !isQueue {
			continue
		}
		for _, k := range []string{"consumers", "producers"} {
			if _, isArray := m[k].([]any); !isArray {
				t.Errorf("queue %v: %s is not an array", m["queue_name"], k)
			}
			delete(m, k)
		}
	}
}

func TestErrors(t *testing.T) {
	sp := loadSpec(t)
	s := seeded(t)
	failure := sp.component("workers-kv_api-response-common-failure")
	for _, c := range []struct {
		method, path, tok string
		status, code      int
		schema            string
	}{
		{"GET", "/accounts/" + acct + "/storage/kv/namespaces", "wrong", 403, 10000, "workers-kv_api-response-common-failure"},
		{"GET", "/accounts/" + acct + "/storage/kv/namespaces", "", 400, 9106, "workers-kv_api-response-common-failure"},
		{"GET", "/accounts/ffffffffffffffffffffffffffffffff/queues", token, 403, 10000, "mq_api-response-common-failure"},
		{"GET", "/accounts/" + acct + "/storage/kv/namespaces/nope", token, 404, 10013, "workers-kv_api-response-common-failure"},
		{"GET", "/accounts/" + acct + "/r2/buckets/nope", token, 404, 10006, "r2_v4_response_failure"},
		{"GET", "/accounts/" + acct + "/queues/nope", token, 404, 11000, "mq_api-response-common-failure"},
		{"GET", "/accounts/" + acct + "/workers/scripts/nope/settings", token, 404, 10007, "workers_api-response-common-failure"},
		{"GET", "/accounts/" + acct + "/nothing/here", token, 400, 7000, "workers_api-response-common-failure"},
		{"PUT", "/accounts/" + acct + "/workers/subdomain", token, 400, 7000, "workers_api-response-common-failure"},
		{"GET", "/accounts/" + acct + "/workers/services/nope", token, 404, 10090, "workers_api-response-common-failure"},
		{"GET", "/accounts/" + acct + "/queues/nope/consumers/nope", token, 404, 11000, "mq_api-response-common-failure"},
	} {
		status, body := get(t, s, c.method, c.path, c.tok)
		if status != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, status, c.status)
		}
		errs, _ := body["errors"].([]any)
		if len(errs) != 1 || errs[0].(map[string]any)["code"] != float64(c.code) {
			t.Errorf("%s %s: errors %v, want code %d", c.method, c.path, body["errors"], c.code)
		}
		schema := failure
		if c.schema != "" {
			schema = sp.component(c.schema)
		}
		if err := sp.validate(any(body), schema, c.path); err != nil {
			t.Errorf("%s %s: %v", c.method, c.path, err)
		}
	}
	// The documented 403 body, byte for byte.
	req, _ := http.NewRequest("GET", s.BaseURL()+"accounts/"+acct+"/queues", nil)
	_, b := send(t, req, "bad")
	if want := `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}`; string(b) != want {
		t.Errorf("403 body %s", b)
	}
}

func sdkOpts(s *Server) []option.RequestOption {
	return []option.RequestOption{option.WithBaseURL(s.BaseURL()), option.WithAPIToken(token), option.WithMaxRetries(0)}
}

// cloudflare-go's auto-pager stops only on an empty page: the fake must honour
// ?page= and answer one.
func TestAutoPagerEnds(t *testing.T) {
	s := seeded(t, WithMaxPerPage(2))
	for _, title := range []string{"b", "c", "d", "e"} {
		s.AddKVNamespace(acct, title)
	}
	svc := kv.NewNamespaceService(sdkOpts(s)...)
	var p kv.NamespaceListParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pager := svc.ListAutoPaging(ctx, p)
	var titles []string
	for i := 0; pager.Next() && i < 100; i++ {
		titles = append(titles, pager.Current().Title)
	}
	if err := pager.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(titles, ",") != "a-demo-jobs,b,c,d,e" {
		t.Errorf("titles %v", titles)
	}
	pages := s.PagesAsked("/kv/namespaces")
	// Pages 1-3 hold 2+2+1 namespaces; page 4 is the empty one that ends it.
	if strings.Join(pages, ",") != ",2,3,4" {
		t.Errorf("pages asked %q", pages)
	}
	res, err := svc.List(ctx, p, option.WithQuery("page", "4"), option.WithQuery("per_page", "2"))
	if err != nil || len(res.Result) != 0 {
		t.Errorf("page past the end: %v %v", res, err)
	}
	if res.ResultInfo.Page != 4 || res.ResultInfo.PerPage != 2 {
		t.Errorf("result_info %+v", res.ResultInfo)
	}
}

func TestR2CursorPaging(t *testing.T) {
	s := seeded(t, WithMaxPerPage(2))
	s.AddBucket(acct, "c")
	s.AddBucket(acct, "b")
	svc := r2.NewBucketService(sdkOpts(s)...)
	var p r2.BucketListParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	var names []string
	cursor := ""
	for range 10 {
		var env struct {
			Result     r2.BucketListResponse `json:"result"`
			ResultInfo struct {
				Cursor string `json:"cursor"`
			} `json:"result_info"`
		}
		opts := []option.RequestOption{option.WithResponseBodyInto(&env)}
		if cursor != "" {
			opts = append(opts, option.WithQuery("cursor", cursor))
		}
		if _, err := svc.List(context.Background(), p, opts...); err != nil {
			t.Fatal(err)
		}
		for _, b := range env.Result.Buckets {
			names = append(names, b.Name)
		}
		if cursor = env.ResultInfo.Cursor; cursor == "" {
			break
		}
	}
	if strings.Join(names, ",") != "a-demo-outputs,b,c" {
		t.Errorf("buckets %v", names)
	}
}

// cloudflare-go's typed models decode the fake's answers: consumers (a union
// keyed by type) and every binding type zerocost uses.
func TestSDKDecodes(t *testing.T) {
	s := seeded(t)
	ctx := context.Background()
	qs := queues.NewQueueService(sdkOpts(s)...)
	var lp queues.QueueListParams
	lp.AccountID.Value, lp.AccountID.Present = acct, true
	page, err := qs.List(ctx, lp)
	if err != nil || len(page.Result) != 2 {
		t.Fatalf("queues %v %v", page, err)
	}
	var cp queues.ConsumerListParams
	cp.AccountID.Value, cp.AccountID.Present = acct, true
	cons, err := qs.Consumers.List(ctx, page.Result[0].QueueID, cp)
	if err != nil || len(cons.Result) != 1 {
		t.Fatalf("consumers %v %v", cons, err)
	}
	w, ok := cons.Result[0].AsUnion().(queues.ConsumerMqWorkerConsumerResponse)
	if !ok || w.ScriptName != "a-demo" || w.Settings.BatchSize != 5 || w.Settings.MaxWaitTimeMs != 10000 || w.Settings.RetryDelay != 30 || w.DeadLetterQueue != "a-demo-jobs-dlq" {
		t.Errorf("consumer %+v", cons.Result[0])
	}

	ws := workers.NewScriptService(sdkOpts(s)...)
	var sp workers.ScriptScriptAndVersionSettingGetParams
	sp.AccountID.Value, sp.AccountID.Present = acct, true
	// Settings answer "placement": {} (as Cloudflare does), which
	// cloudflare-go v7.9.0's typed decoding panics on: read them raw, as
	// internal/cfapi does, and decode the bindings with the SDK's types.
	var raw []byte
	if _, err := ws.ScriptAndVersionSettings.Get(ctx, "a-demo", sp, option.WithResponseBodyInto(&raw)); err != nil {
		t.Fatal(err)
	}
	var settings struct {
		Result struct {
			Bindings []workers.ScriptScriptAndVersionSettingGetResponseBinding `json:"bindings"`
		} `json:"result"`
	}
	if err := json.Unmarshal(raw, &settings); err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, b := range settings.Result.Bindings {
		types[string(b.Type)] = true
		if b.Type == "ratelimit" {
			rl, ok := b.AsUnion().(workers.ScriptScriptAndVersionSettingGetResponseBindingsWorkersBindingKindRatelimit)
			if !ok || rl.Simple.Limit != 60 || rl.Simple.Period != 60 || rl.NamespaceID != "1001" {
				t.Errorf("ratelimit binding %+v", b)
			}
		}
	}
	if len(types) != 7 {
		t.Errorf("binding types %v", types)
	}
	var sub workers.ScriptSubdomainGetParams
	sub.AccountID.Value, sub.AccountID.Present = acct, true
	if res, err := ws.Subdomain.Get(ctx, "a-demo", sub); err != nil || !res.Enabled {
		t.Errorf("script subdomain %v %v", res, err)
	}
	_, err = ws.ScriptAndVersionSettings.Get(ctx, "nope", sp)
	var apiErr *workers.Error
	if err == nil || !asError(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Errors[0].Code != 10007 {
		t.Errorf("missing script: %v", err)
	}
}

func asError(err error, target **workers.Error) bool {
	e, ok := err.(*workers.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestWritesAndFaults(t *testing.T) {
	s := seeded(t)
	opts := sdkOpts(s)
	ctx := context.Background()
	qs := queues.NewQueueService(opts...)
	var qid string
	s.Update(func(st *State) { qid = st.Accounts[acct].Queues[0].ID })
	var np queues.ConsumerNewParams
	np.AccountID.Value, np.AccountID.Present = acct, true
	_, err := qs.Consumers.New(ctx, qid, np, option.WithRequestBody("application/json", []byte(`{"script_name":"a-demo","type":"worker"}`)))
	if e, ok := err.(*queues.Error); !ok || e.StatusCode != 409 || e.Errors[0].Code != 11004 {
		t.Errorf("second worker consumer: %v", err)
	}

	ks := kv.NewNamespaceService(opts...)
	var kp kv.NamespaceNewParams
	kp.AccountID.Value, kp.AccountID.Present = acct, true
	kp.Title.Value, kp.Title.Present = "new-ns", true
	ns, err := ks.New(ctx, kp)
	if err != nil || ns.Title != "new-ns" || len(ns.ID) != 32 {
		t.Fatalf("create namespace: %v %v", ns, err)
	}

	s.AddFault(Fault{Method: "GET", Path: "/accounts/" + acct + "/storage/kv", Status: 500, Errors: []Message{{1000, "boom"}}, Times: 1})
	var lp kv.NamespaceListParams
	lp.AccountID.Value, lp.AccountID.Present = acct, true
	if _, err := ks.List(ctx, lp); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("fault not injected: %v", err)
	}
	if res, err := ks.List(ctx, lp); err != nil || len(res.Result) != 2 {
		t.Errorf("fault outlived Times: %v %v", res, err)
	}
}
