package cftest

// The calls the Cloudflare provider (pulumi-resource-cloudflare 6.18.0 =
// terraform-provider-cloudflare v5.22.0) makes, sent through cloudflare-go
// v7's service packages with the provider's own request bodies
// (option.WithRequestBody), as the provider does. See
// /work/shared/cloudflare-api/provider-calls.md.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/queues"
	"github.com/cloudflare/cloudflare-go/v7/r2"
	"github.com/cloudflare/cloudflare-go/v7/workers"
)

const secret = "sk-ant-never-answered-0123"

func tctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func body(s string) option.RequestOption {
	return option.WithRequestBody("application/json", []byte(s))
}

// noUnknown fails the test when the server saw a request it has no route for.
func noUnknown(t *testing.T, s *Server) {
	t.Helper()
	if u := s.Unknown(); len(u) > 0 {
		t.Errorf("requests with no route: %v", u)
	}
}

// providerServer is an account with a zone named example.com and the
// resources a script binds to. Once the test ends, it fails the test if the
// server saw a request it has no route for (noUnknown): every provider call
// the tests make is one the fake serves.
func providerServer(t *testing.T, opts ...Option) (*Server, string, string, string) {
	s := New(t, append([]Option{WithToken(token), WithAccount(acct), WithZone(zone, "example.com")}, opts...)...)
	t.Cleanup(func() { noUnknown(t, s) })
	kvID := s.AddKVNamespace(acct, "p-jobs").ID
	s.AddBucket(acct, "p-outputs")
	qid := s.AddQueue(acct, "p-jobs")
	dlq := s.AddQueue(acct, "p-jobs-dlq")
	return s, kvID, qid, dlq
}

// providerUpload is the multipart body the provider sends (model.go
// MarshalMultipart): the code part named and filed as the main module, then
// the metadata part without a filename.
func providerUpload(t *testing.T, code string, meta map[string]any) (string, []byte) {
	t.Helper()
	var parts []formPart
	if code != "" {
		parts = append(parts, formPart{"worker.js", "worker.js", "application/javascript+module", code})
	}
	mb, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	return formData(append(parts, formPart{"metadata", "", "application/json", string(mb)})...)
}

func providerMeta(kvID string) map[string]any {
	return map[string]any{
		"main_module": "worker.js", "compatibility_date": "2026-06-01", "logpush": false, "usage_model": "standard",
		"bindings": []any{
			map[string]any{"name": "JOBS", "type": "kv_namespace", "namespace_id": kvID},
			map[string]any{"name": "OUTPUTS", "type": "r2_bucket", "bucket_name": "p-outputs"},
			map[string]any{"name": "JOB_QUEUE", "type": "queue", "queue_name": "p-jobs"},
			map[string]any{"name": "PRODUCT", "type": "plain_text", "text": "p"},
			map[string]any{"name": "ANTHROPIC_API_KEY", "type": "secret_text", "text": secret},
			map[string]any{"name": "RATE_LIMITER", "type": "ratelimit", "namespace_id": "1001", "simple": map[string]any{"limit": 60, "period": 60}},
			map[string]any{"name": "MODEL_USAGE", "type": "analytics_engine", "dataset": "zerocost_model_usage"},
		},
	}
}

const workerCode = "export default {\n  async fetch(req, env) { return new Response(\"ok\"); },\n  async queue(batch, env) { for (const m of batch.messages) m.ack(); },\n};\n// ünïcode and \r\n line ends kept\r\n"

// uploadDemo uploads the Worker p-demo as the provider does, failing the
// test when it cannot.
func uploadDemo(t *testing.T, s *Server, kvID string) {
	t.Helper()
	if _, _, err := upload(t, s, "p-demo", workerCode, providerMeta(kvID)); err != nil {
		t.Fatal(err)
	}
}

// demoServer is a providerServer with the Worker p-demo uploaded; it
// returns the KV namespace's and the queue p-jobs's ids.
func demoServer(t *testing.T) (s *Server, kvID, qid string) {
	t.Helper()
	s, kvID, qid, _ = providerServer(t)
	uploadDemo(t, s, kvID)
	return s, kvID, qid
}

// uploadParts uploads the multipart/form-data body of parts as the script
// name.
func uploadParts(t *testing.T, s *Server, name string, parts ...formPart) (*workers.ScriptUpdateResponse, error) {
	t.Helper()
	ct, b := formData(parts...)
	return updateScript(t, s, name, option.WithRequestBody(ct, b))
}

// updateScript is PUT .../workers/scripts/{name} through cloudflare-go's
// script service, with opts giving its body.
func updateScript(t *testing.T, s *Server, name string, opts ...option.RequestOption) (*workers.ScriptUpdateResponse, error) {
	t.Helper()
	var p workers.ScriptUpdateParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	return workers.NewScriptService(sdkOpts(s)...).Update(tctx(t), name, p, opts...)
}

func upload(t *testing.T, s *Server, name, code string, meta map[string]any) (*workers.ScriptUpdateResponse, []byte, error) {
	t.Helper()
	ct, b := providerUpload(t, code, meta)
	var raw []byte
	if _, err := updateScript(t, s, name, option.WithRequestBody(ct, b), option.WithResponseBodyInto(&raw)); err != nil {
		return nil, nil, err
	}
	var env struct {
		Result workers.ScriptUpdateResponse `json:"result"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("upload answer: %v: %s", err, raw)
	}
	return &env.Result, raw, nil
}

// getJSON is a GET through cloudflare-go's generic client path, decoded.
func getJSON(t *testing.T, s *Server, path string) (int, map[string]any) {
	t.Helper()
	return get(t, s, "GET", path, token)
}

func TestScriptLifecycleLikeTheProvider(t *testing.T) {
	s, kvID, _, _ := providerServer(t)
	meta := providerMeta(kvID)
	res, raw, err := upload(t, s, "p-demo", workerCode, meta)
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != "p-demo" || res.Etag == "" || res.CreatedOn.IsZero() || res.ModifiedOn.IsZero() || !res.HasModules || res.HasAssets ||
		!slices.Equal(res.Handlers, []string{"fetch", "queue"}) || res.CompatibilityDate != "2026-06-01" || res.UsageModel != "standard" {
		t.Errorf("upload answer %s", raw)
	}
	if strings.Contains(string(raw), secret) {
		t.Errorf("the upload answer shows the secret: %s", raw)
	}

	// Stored exactly as uploaded, the secret included.
	sc, found := s.Script(acct, "p-demo")
	if !found || sc.Code() != workerCode || sc.MainModule != "worker.js" || sc.CompatibilityDate != "2026-06-01" || len(sc.Bindings) != 7 {
		t.Fatalf("stored script %+v", sc)
	}
	if b, _ := sc.Binding("ANTHROPIC_API_KEY"); b.Type != "secret_text" || b.Text != secret {
		t.Errorf("secret binding stored as %+v", b)
	}
	if b, _ := sc.Binding("RATE_LIMITER"); b.NamespaceID != "1001" || b.Simple == nil || *b.Simple != (RateLimitSimple{60, 60}) {
		t.Errorf("ratelimit binding stored as %+v", b)
	}

	// Read, step 1: the services view.
	status, svc := getJSON(t, s, "/accounts/"+acct+"/workers/services/p-demo")
	if status != 200 {
		t.Fatalf("services: %d %v", status, svc)
	}
	script := svc["result"].(map[string]any)["default_environment"].(map[string]any)["script"].(map[string]any)
	if script["id"] != "p-demo" || script["etag"] != res.Etag || script["compatibility_date"] != "2026-06-01" || script["usage_model"] != "standard" {
		t.Errorf("services script %v", script)
	}

	// Step 2: settings: the bindings as uploaded, the secret without text.
	status, set := getJSON(t, s, "/accounts/"+acct+"/workers/scripts/p-demo/settings")
	if status != 200 {
		t.Fatalf("settings: %d", status)
	}
	result := set["result"].(map[string]any)
	want := meta["bindings"].([]any)
	got := result["bindings"].([]any)
	if len(got) != len(want) {
		t.Fatalf("settings bindings %v", got)
	}
	for i := range want {
		w := copyMap(want[i])
		if w["type"] == "secret_text" {
			delete(w, "text")
		}
		if toJSON(w) != toJSON(got[i]) {
			t.Errorf("binding %d: %s, uploaded %s", i, toJSON(got[i]), toJSON(want[i]))
		}
	}
	if p, isObj := result["placement"].(map[string]any); !isObj || len(p) != 0 {
		t.Errorf("placement %v: the provider's Read needs an empty object", result["placement"])
	}
	for _, k := range []string{"observability", "limits", "tail_consumers"} {
		if _, has := result[k]; has {
			t.Errorf("settings answer %s, which was not uploaded (the provider would see drift)", k)
		}
	}

	// Step 3: the content, byte for byte, with Accept: string.
	ws := workers.NewScriptService(sdkOpts(s)...)
	var cp workers.ScriptContentGetParams
	cp.AccountID.Value, cp.AccountID.Present = acct, true
	cres, err := ws.Content.Get(tctx(t), "p-demo", cp)
	if err != nil {
		t.Fatal(err)
	}
	content, _ := io.ReadAll(cres.Body)
	cres.Body.Close()
	if mt, _, err := mime.ParseMediaType(cres.Header.Get("Content-Type")); err != nil || mt != "application/javascript+module" || string(content) != workerCode {
		t.Errorf("content %q (%s, %v)", content, cres.Header.Get("Content-Type"), err)
	}
	if r := s.Requests(); r[len(r)-1].Path != "/accounts/"+acct+"/workers/scripts/p-demo/content/v2" {
		t.Errorf("content path %v", r[len(r)-1])
	}

	// The upload made a version and deployed it to 100%.
	vs := s.Versions(acct, "p-demo")
	if len(vs) != 1 || vs[0].Number != 1 {
		t.Fatalf("versions %+v", vs)
	}
	if a := s.Active(acct, "p-demo"); len(a) != 1 || a[0] != (DeploymentVersion{vs[0].ID, 100}) {
		t.Errorf("active %+v", a)
	}
	ds := s.Deployments(acct, "p-demo")
	if len(ds) != 1 || ds[0].Annotations["workers/triggered_by"] != "upload" || ds[0].Source != "api" {
		t.Errorf("deployments %+v", ds)
	}

	// Update = the same PUT: a second version, deployed; the script keeps its tag.
	meta["compatibility_flags"] = []string{"nodejs_compat"}
	meta["annotations"] = map[string]string{"workers/message": "second"}
	res2, _, err := upload(t, s, "p-demo", workerCode+"// v2\n", meta)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Etag == res.Etag || !slices.Equal(res2.CompatibilityFlags, []string{"nodejs_compat"}) {
		t.Errorf("second upload %+v", res2)
	}
	sc2, _ := s.Script(acct, "p-demo")
	if sc2.Tag != sc.Tag || sc2.Code() != workerCode+"// v2\n" {
		t.Errorf("after update %+v", sc2)
	}
	vs = s.Versions(acct, "p-demo")
	if a := s.Active(acct, "p-demo"); len(vs) != 2 || a[0].VersionID != vs[1].ID {
		t.Errorf("after update: versions %+v active %+v", vs, a)
	}
	if d := s.Deployments(acct, "p-demo")[0]; d.Annotations["workers/message"] != "second" {
		t.Errorf("deployment annotations %+v", d.Annotations)
	}
	// zerocost deploy's rollback reads the same deployments through the API.
	var dp workers.ScriptDeploymentListParams
	dp.AccountID.Value, dp.AccountID.Present = acct, true
	list, err := ws.Deployments.List(tctx(t), "p-demo", dp)
	if err != nil || len(list.Deployments) != 2 || list.Deployments[0].Versions[0].VersionID != vs[1].ID {
		t.Errorf("deployments through the API: %+v %v", list, err)
	}

	// Import reads the raw script first.
	status2, dl := rawGet(t, s, "/accounts/"+acct+"/workers/scripts/p-demo", "application/javascript")
	if status2 != 200 || string(dl) != workerCode+"// v2\n" {
		t.Errorf("download: %d %q", status2, dl)
	}

	// Delete answers JSON; then the Read's first GET is 404 (removed from state).
	var delp workers.ScriptDeleteParams
	delp.AccountID.Value, delp.AccountID.Present = acct, true
	if _, err := ws.Delete(tctx(t), "p-demo", delp); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if status, b := getJSON(t, s, "/accounts/"+acct+"/workers/services/p-demo"); status != 404 || !strings.Contains(toJSON(b), "10090") {
		t.Errorf("services after delete: %d %v", status, b)
	}
	if status, _ := getJSON(t, s, "/accounts/"+acct+"/workers/scripts/p-demo/settings"); status != 404 {
		t.Errorf("settings after delete: %d", status)
	}
	if len(s.Versions(acct, "p-demo")) != 0 {
		t.Errorf("versions outlived the script")
	}
}

func copyMap(v any) map[string]any {
	m := map[string]any{}
	for k, x := range v.(map[string]any) {
		m[k] = x
	}
	return m
}

func rawGet(t *testing.T, s *Server, path, accept string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.BaseURL()+strings.TrimPrefix(path, "/"), nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, b := send(t, req, token)
	return res.StatusCode, b
}

// No GET answers a secret's text: not settings, services, the script list,
// content, versions, deployments, nor the fake's own state page.
func TestSecretTextIsNeverAnswered(t *testing.T) {
	s, _, _ := demoServer(t)
	base := "/accounts/" + acct + "/workers/"
	for _, p := range []string{base + "scripts", base + "scripts/p-demo", base + "scripts/p-demo/settings", base + "scripts/p-demo/script-settings",
		base + "scripts/p-demo/content/v2", base + "services/p-demo", base + "scripts/p-demo/versions", base + "scripts/p-demo/deployments"} {
		status, b := rawGet(t, s, p, "")
		if status != 200 || bytes.Contains(b, []byte(secret)) {
			t.Errorf("GET %s: %d, secret shown: %v", p, status, bytes.Contains(b, []byte(secret)))
		}
	}
	res, err := http.Get(s.URL + "/__fake/state")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || bytes.Contains(b, []byte(secret)) || !bytes.Contains(b, []byte(`"ANTHROPIC_API_KEY"`)) || !json.Valid(b) {
		t.Errorf("/__fake/state: %d, secret shown %v", res.StatusCode, bytes.Contains(b, []byte(secret)))
	}
	// The stored script still has it, for tests to check it reached the Worker.
	if sc, _ := s.Script(acct, "p-demo"); !strings.Contains(string(sc.Metadata), secret) {
		t.Errorf("the uploaded metadata is not kept verbatim")
	}
}

// namedReader is a file for cloudflare-go's own multipart encoding.
type namedReader struct {
	io.Reader
	name, ct string
}

func (r namedReader) Filename() string    { return r.name }
func (r namedReader) ContentType() string { return r.ct }

// cloudflare-go's own multipart encoding (parts files.0, ... and the
// metadata as metadata.main_module, ... form fields) is not what Cloudflare
// accepts (a JSON metadata part and modules named by their part name),
// which is why the provider builds its own body: the fake refuses it too.
func TestScriptUploadThroughSDKMultipartIsRefused(t *testing.T) {
	s, _, _, _ := providerServer(t)
	ws := workers.NewScriptService(sdkOpts(s)...)
	var p workers.ScriptUpdateParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	var pt workers.ScriptUpdateParamsMetadataBindingsWorkersBindingKindPlainText
	pt.Name.Value, pt.Name.Present = "GREETING", true
	pt.Text.Value, pt.Text.Present = "hello", true
	pt.Type.Value, pt.Type.Present = workers.ScriptUpdateParamsMetadataBindingsWorkersBindingKindPlainTextTypePlainText, true
	var m workers.ScriptUpdateParamsMetadata
	m.MainModule.Value, m.MainModule.Present = "index.mjs", true
	m.CompatibilityDate.Value, m.CompatibilityDate.Present = "2026-01-01", true
	m.Bindings.Value, m.Bindings.Present = []workers.ScriptUpdateParamsMetadataBindingUnion{pt}, true
	p.Metadata.Value, p.Metadata.Present = m, true
	p.Files.Value, p.Files.Present = []io.Reader{
		namedReader{strings.NewReader("export default { fetch() { return new Response('x') } }"), "index.mjs", "application/javascript+module"},
	}, true
	if _, err := ws.Update(tctx(t), "sdk-demo", p); !isAPIError(err, 400, 10021) {
		t.Errorf("cloudflare-go's multipart: %v", err)
	}
	if _, found := s.Script(acct, "sdk-demo"); found {
		t.Error("the refused upload created the script")
	}
}

// Several modules, uploaded the way wrangler does (part name = module
// name): content/v2 answers multipart, the entry point first.
func TestScriptWithSeveralModules(t *testing.T) {
	s, _, _, _ := providerServer(t)
	if _, err := uploadParts(t, s, "multi-demo",
		formPart{"lib.mjs", "lib.mjs", "application/javascript+module", "export const x = 1;"},
		formPart{"index.mjs", "index.mjs", "application/javascript+module", "import { x } from './lib.mjs';\nexport default { fetch() { return new Response(String(x)) } }"},
		formPart{"metadata", "metadata", "application/json", `{"main_module":"index.mjs","compatibility_date":"2026-01-01","bindings":[{"type":"plain_text","name":"GREETING","text":""}]}`},
	); err != nil {
		t.Fatal(err)
	}
	sc, _ := s.Script(acct, "multi-demo")
	if len(sc.Modules) != 2 || sc.Modules[0].Name != "index.mjs" || sc.Modules[1].Name != "lib.mjs" {
		t.Errorf("modules %+v", sc.Modules)
	}
	// An empty plain text is kept and answered as "".
	if status, set := getJSON(t, s, "/accounts/"+acct+"/workers/scripts/multi-demo/settings"); status != 200 ||
		!strings.Contains(toJSON(set), `{"name":"GREETING","text":"","type":"plain_text"}`) {
		t.Errorf("settings %d %s", status, toJSON(set))
	}
	var cp workers.ScriptContentGetParams
	cp.AccountID.Value, cp.AccountID.Present = acct, true
	cres, err := workers.NewScriptService(sdkOpts(s)...).Content.Get(tctx(t), "multi-demo", cp)
	if err != nil {
		t.Fatal(err)
	}
	defer cres.Body.Close()
	mt, params, _ := mime.ParseMediaType(cres.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		t.Fatalf("content type %q", mt)
	}
	part, err := multipart.NewReader(cres.Body, params["boundary"]).NextPart()
	if err != nil {
		t.Fatal(err)
	}
	first, _ := io.ReadAll(part)
	if part.FormName() != "index.mjs" || !strings.HasPrefix(string(first), "import { x }") {
		t.Errorf("first part %s: %q", part.FormName(), first)
	}
}

func TestScriptUploadRejects(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s, kvID, _, _ := providerServer(t, WithClock(func() time.Time { return now }))
	with := func(f func(m map[string]any)) map[string]any {
		m := providerMeta(kvID)
		f(m)
		return m
	}
	binding := func(i int, k string, v any) func(map[string]any) {
		return func(m map[string]any) { m["bindings"].([]any)[i].(map[string]any)[k] = v }
	}
	for _, c := range []struct {
		name string
		code string
		meta map[string]any
		want int
	}{
		{"no main module part", "", providerMeta(kvID), 10021},
		{"main module misnamed", workerCode, with(func(m map[string]any) { m["main_module"] = "index.js" }), 10021},
		{"neither main_module nor body_part", workerCode, with(func(m map[string]any) { delete(m, "main_module") }), 10021},
		{"unknown KV namespace", workerCode, with(binding(0, "namespace_id", "ffff")), 10041},
		{"unknown bucket", workerCode, with(binding(1, "bucket_name", "nope")), 10085},
		{"unknown queue", workerCode, with(binding(2, "queue_name", "nope")), 11000},
		{"queue binding without a queue", workerCode, with(binding(2, "queue_name", "")), 10021},
		{"plain_text without text", workerCode, with(func(m map[string]any) { delete(m["bindings"].([]any)[3].(map[string]any), "text") }), 10021},
		{"ratelimit period 30", workerCode, with(binding(5, "simple", map[string]any{"limit": 60, "period": 30})), 10021},
		{"duplicate binding name", workerCode, with(binding(1, "name", "JOBS")), 10021},
		{"unknown binding type", workerCode, with(binding(6, "type", "analytics")), 10021},
		{"compatibility date in the future", workerCode, with(func(m map[string]any) { m["compatibility_date"] = "2027-01-01" }), 10021},
		{"compatibility date malformed", workerCode, with(func(m map[string]any) { m["compatibility_date"] = "June 2026" }), 10021},
		{"static assets", workerCode, with(func(m map[string]any) { m["assets"] = map[string]any{"jwt": "x"} }), 10021},
	} {
		_, _, err := upload(t, s, "bad-demo", c.code, c.meta)
		var ae *workers.Error
		if !errors.As(err, &ae) || ae.StatusCode != 400 || len(ae.Errors) != 1 || ae.Errors[0].Code != int64(c.want) {
			t.Errorf("%s: %v, want 400 code %d", c.name, err, c.want)
			continue
		}
		if ae.Response.Header.Get("x-should-retry") != "false" {
			t.Errorf("%s: no x-should-retry: false", c.name)
		}
	}
	// Not multipart.
	_, err := updateScript(t, s, "bad-demo", body(`{"script":"x"}`))
	var ae *workers.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Errors[0].Code != 10021 {
		t.Errorf("JSON upload: %v", err)
	}
	if _, found := s.Script(acct, "bad-demo"); found {
		t.Error("a refused upload created the script")
	}
	// A date up to today is fine.
	if _, _, err := upload(t, s, "ok-demo", workerCode, with(func(m map[string]any) { m["compatibility_date"] = "2026-12-01" })); err != nil {
		t.Error(err)
	}
}

func TestScriptSubdomainAndSchedules(t *testing.T) {
	s, kvID, _ := demoServer(t)
	ws := workers.NewScriptService(sdkOpts(s)...)

	// Subdomain: POST {enabled} (previews follow), GET, DELETE (JSON).
	var np workers.ScriptSubdomainNewParams
	np.AccountID.Value, np.AccountID.Present = acct, true
	sub, err := ws.Subdomain.New(tctx(t), "p-demo", np, body(`{"enabled":true}`))
	if err != nil || !sub.Enabled || !sub.PreviewsEnabled {
		t.Fatalf("subdomain on: %+v %v", sub, err)
	}
	if sc, _ := s.Script(acct, "p-demo"); !sc.WorkersDev || !sc.PreviewsEnabled {
		t.Errorf("state %+v", sc)
	}
	sub, err = ws.Subdomain.New(tctx(t), "p-demo", np, body(`{"enabled":true,"previews_enabled":false}`))
	if err != nil || !sub.Enabled || sub.PreviewsEnabled {
		t.Errorf("previews off: %+v %v", sub, err)
	}
	var gp workers.ScriptSubdomainGetParams
	gp.AccountID.Value, gp.AccountID.Present = acct, true
	if got, err := ws.Subdomain.Get(tctx(t), "p-demo", gp); err != nil || !got.Enabled || got.PreviewsEnabled {
		t.Errorf("get: %+v %v", got, err)
	}
	var dp workers.ScriptSubdomainDeleteParams
	dp.AccountID.Value, dp.AccountID.Present = acct, true
	if _, err := ws.Subdomain.Delete(tctx(t), "p-demo", dp); err != nil {
		t.Errorf("delete: %v", err)
	}
	if got, _ := ws.Subdomain.Get(tctx(t), "p-demo", gp); got.Enabled {
		t.Errorf("after delete: %+v", got)
	}
	if _, err := ws.Subdomain.New(tctx(t), "p-demo", np, body(`{}`)); err == nil {
		t.Error("POST without enabled was accepted")
	}
	if _, err := ws.Subdomain.Get(tctx(t), "nope", gp); !isAPIError(err, 404, 10007) {
		t.Errorf("missing script: %v", err)
	}

	// Schedules: PUT with a bare array, GET.
	var sp workers.ScriptScheduleUpdateParams
	sp.AccountID.Value, sp.AccountID.Present = acct, true
	up, err := ws.Schedules.Update(tctx(t), "p-demo", sp, body(`[{"cron":"*/30 * * * *"},{"cron":"0 3 * * MON"}]`))
	if err != nil || len(up.Schedules) != 2 || up.Schedules[0].Cron != "*/30 * * * *" || up.Schedules[1].CreatedOn == "" {
		t.Fatalf("schedules: %+v %v", up, err)
	}
	var sg workers.ScriptScheduleGetParams
	sg.AccountID.Value, sg.AccountID.Present = acct, true
	if got, err := ws.Schedules.Get(tctx(t), "p-demo", sg); err != nil || len(got.Schedules) != 2 || got.Schedules[1].Cron != "0 3 * * MON" {
		t.Errorf("get schedules: %+v %v", got, err)
	}
	for _, bad := range []string{`{"schedules":[{"cron":"* * * * *"}]}`, `[{"cron":"every minute"}]`, `[{"cron":"* * * *"}]`} {
		if _, err := ws.Schedules.Update(tctx(t), "p-demo", sp, body(bad)); !isAPIError(err, 400, 10001) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if sc, _ := s.Script(acct, "p-demo"); len(sc.Schedules) != 2 {
		t.Errorf("a refused PUT changed the schedules: %+v", sc.Schedules)
	}
	if _, err := ws.Schedules.Update(tctx(t), "p-demo", sp, body(`[]`)); err != nil {
		t.Errorf("no schedules: %v", err)
	}
	// Schedules stay when the script is uploaded again (the provider never deletes them).
	if _, err := ws.Schedules.Update(tctx(t), "p-demo", sp, body(`[{"cron":"0 * * * *"}]`)); err != nil {
		t.Fatal(err)
	}
	uploadDemo(t, s, kvID)
	if sc, _ := s.Script(acct, "p-demo"); len(sc.Schedules) != 1 || !slices.Equal(sc.Handlers, []string{"fetch", "queue"}) {
		t.Errorf("after re-upload: %+v", sc)
	}
}

func isAPIError(err error, status, code int) bool {
	var we *workers.Error
	if errors.As(err, &we) {
		return we.StatusCode == status && len(we.Errors) > 0 && we.Errors[0].Code == int64(code)
	}
	return false
}

func TestKVNamespaceLikeTheProvider(t *testing.T) {
	s, _, _, _ := providerServer(t)
	ks := kv.NewNamespaceService(sdkOpts(s)...)
	var np kv.NamespaceNewParams
	np.AccountID.Value, np.AccountID.Present = acct, true
	ns, err := ks.New(tctx(t), np, body(`{"title":"p-cache"}`))
	if err != nil || ns.Title != "p-cache" || ns.ID == "" || !ns.SupportsURLEncoding {
		t.Fatalf("create: %+v %v", ns, err)
	}
	var gp kv.NamespaceGetParams
	gp.AccountID.Value, gp.AccountID.Present = acct, true
	if got, err := ks.Get(tctx(t), ns.ID, gp); err != nil || got.Title != "p-cache" {
		t.Errorf("get: %+v %v", got, err)
	}
	var up kv.NamespaceUpdateParams
	up.AccountID.Value, up.AccountID.Present = acct, true
	if got, err := ks.Update(tctx(t), ns.ID, up, body(`{"title":"p-cache-2"}`)); err != nil || got.ID != ns.ID || got.Title != "p-cache-2" {
		t.Errorf("update: %+v %v", got, err)
	}
	_, err = ks.Update(tctx(t), ns.ID, up, body(`{"title":"p-jobs"}`))
	var ke *kv.Error
	if !errors.As(err, &ke) || ke.StatusCode != 400 || ke.Errors[0].Code != 10014 {
		t.Errorf("rename onto another title: %v", err)
	}
	var dp kv.NamespaceDeleteParams
	dp.AccountID.Value, dp.AccountID.Present = acct, true
	if _, err := ks.Delete(tctx(t), ns.ID, dp); err != nil {
		t.Errorf("delete: %v", err)
	}
	if _, err := ks.Get(tctx(t), ns.ID, gp); !errors.As(err, &ke) || ke.StatusCode != 404 {
		t.Errorf("after delete: %v", err)
	}
}

func TestR2BucketLikeTheProvider(t *testing.T) {
	s, _, _, _ := providerServer(t)
	bs := r2.NewBucketService(sdkOpts(s)...)
	def := option.WithHeader("cf-r2-jurisdiction", "default")
	eu := option.WithHeader("cf-r2-jurisdiction", "eu")
	var np r2.BucketNewParams
	np.AccountID.Value, np.AccountID.Present = acct, true
	b, err := bs.New(tctx(t), np, def, body(`{"name":"p-data","storageClass":"Standard"}`))
	if err != nil || b.Name != "p-data" || b.Location != "enam" || b.StorageClass != "Standard" || b.Jurisdiction != "default" || b.CreationDate == "" {
		t.Fatalf("create: %+v %v", b, err)
	}
	if b, err := bs.New(tctx(t), np, eu, body(`{"name":"p-data","locationHint":"WEUR","storageClass":"InfrequentAccess"}`)); err != nil || b.Location != "weur" || b.Jurisdiction != "eu" {
		t.Errorf("same name in eu: %+v %v", b, err)
	}
	_, err = bs.New(tctx(t), np, def, body(`{"name":"p-data","storageClass":"Standard"}`))
	var re *r2.Error
	if !errors.As(err, &re) || re.StatusCode != 409 || re.Errors[0].Code != 10004 || re.Response.Header.Get("x-should-retry") != "false" {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := bs.New(tctx(t), np, def, body(`{"name":"Bad_Name"}`)); !errors.As(err, &re) || re.Errors[0].Code != 10005 {
		t.Errorf("bad name: %v", err)
	}
	var gp r2.BucketGetParams
	gp.AccountID.Value, gp.AccountID.Present = acct, true
	if got, err := bs.Get(tctx(t), "p-data", gp, eu); err != nil || got.StorageClass != "InfrequentAccess" {
		t.Errorf("get eu: %+v %v", got, err)
	}
	// PATCH: no body, the storage class in a header.
	var ep r2.BucketEditParams
	ep.AccountID.Value, ep.AccountID.Present = acct, true
	ep.StorageClass.Value, ep.StorageClass.Present = r2.BucketEditParamsCfR2StorageClassInfrequentAccess, true
	if got, err := bs.Edit(tctx(t), "p-data", ep, def); err != nil || got.StorageClass != "InfrequentAccess" {
		t.Errorf("edit: %+v %v", got, err)
	}
	var dp r2.BucketDeleteParams
	dp.AccountID.Value, dp.AccountID.Present = acct, true
	if _, err := bs.Delete(tctx(t), "p-data", dp, eu); err != nil {
		t.Errorf("delete eu: %v", err)
	}
	if got, err := bs.Get(tctx(t), "p-data", gp, def); err != nil || got.Jurisdiction != "default" {
		t.Errorf("the default bucket went with the eu one: %+v %v", got, err)
	}
	if _, err := bs.Get(tctx(t), "p-data", gp, eu); !errors.As(err, &re) || re.StatusCode != 404 || re.Errors[0].Code != 10006 {
		t.Errorf("eu after delete: %v", err)
	}
}

func TestQueueAndConsumerLikeTheProvider(t *testing.T) {
	s, _, _ := demoServer(t)
	qs := queues.NewQueueService(sdkOpts(s)...)
	var np queues.QueueNewParams
	np.AccountID.Value, np.AccountID.Present = acct, true
	q, err := qs.New(tctx(t), np, body(`{"queue_name":"p-mail"}`))
	if err != nil || q.QueueName != "p-mail" || q.QueueID == "" || q.Settings.MessageRetentionPeriod != 345600 {
		t.Fatalf("create: %+v %v", q, err)
	}
	var up queues.QueueUpdateParams
	up.AccountID.Value, up.AccountID.Present = acct, true
	q2, err := qs.Update(tctx(t), q.QueueID, up, body(`{"queue_name":"p-mail-2","settings":{"delivery_delay":5,"message_retention_period":86400}}`))
	if err != nil || q2.QueueID != q.QueueID || q2.QueueName != "p-mail-2" || q2.Settings.DeliveryDelay != 5 || q2.Settings.MessageRetentionPeriod != 86400 {
		t.Errorf("rename: %+v %v", q2, err)
	}
	var gp queues.QueueGetParams
	gp.AccountID.Value, gp.AccountID.Present = acct, true
	// The jobs queue has a producer: the script binds to it.
	jobs := ""
	s.Update(func(st *State) { jobs = st.Accounts[acct].Queues[0].ID })
	if got, err := qs.Get(tctx(t), jobs, gp); err != nil || got.ProducersTotalCount != 1 || got.Producers[0].Script != "p-demo" {
		t.Errorf("producers: %+v %v", got, err)
	}

	// A consumer: the provider sends script_name, reads script.
	var cp queues.ConsumerNewParams
	cp.AccountID.Value, cp.AccountID.Present = acct, true
	var raw []byte
	_, err = qs.Consumers.New(tctx(t), jobs, cp, option.WithResponseBodyInto(&raw),
		body(`{"dead_letter_queue":"p-jobs-dlq","script_name":"p-demo","settings":{"batch_size":5,"max_retries":3,"max_wait_time_ms":10000,"retry_delay":30},"type":"worker"}`))
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Result map[string]any `json:"result"`
	}
	_ = json.Unmarshal(raw, &env)
	c := env.Result
	if c["script"] != "p-demo" || c["script_name"] != "p-demo" || c["type"] != "worker" || c["queue_name"] != "p-jobs" || c["dead_letter_queue"] != "p-jobs-dlq" || c["consumer_id"] == "" || c["created_on"] == "" {
		t.Errorf("consumer %v", c)
	}
	if st := c["settings"].(map[string]any); st["batch_size"] != 5.0 || st["max_wait_time_ms"] != 10000.0 || st["retry_delay"] != 30.0 || st["max_concurrency"] != nil {
		t.Errorf("settings %v", st)
	}
	id := c["consumer_id"].(string)
	var cg queues.ConsumerGetParams
	cg.AccountID.Value, cg.AccountID.Present = acct, true
	got, err := qs.Consumers.Get(tctx(t), jobs, id, cg)
	if w, isWorker := got.AsUnion().(queues.ConsumerMqWorkerConsumerResponse); err != nil || !isWorker || w.ScriptName != "p-demo" || w.Settings.BatchSize != 5 {
		t.Errorf("get consumer: %+v %v", got, err)
	}
	// One consumer per queue: 409 11004, answered so the SDK does not retry.
	_, err = qs.Consumers.New(tctx(t), jobs, cp, body(`{"script_name":"p-demo","type":"worker"}`))
	var qe *queues.Error
	if !errors.As(err, &qe) || qe.StatusCode != 409 || qe.Errors[0].Code != 11004 || qe.Response.Header.Get("x-should-retry") != "false" {
		t.Errorf("second consumer: %v", err)
	}
	// Update: same body; unset settings take the defaults.
	var cu queues.ConsumerUpdateParams
	cu.AccountID.Value, cu.AccountID.Present = acct, true
	raw = nil
	if _, err := qs.Consumers.Update(tctx(t), jobs, id, cu, option.WithResponseBodyInto(&raw), body(`{"script_name":"p-demo","settings":{"batch_size":10,"max_concurrency":2},"type":"worker"}`)); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(raw, &env)
	if st := env.Result["settings"].(map[string]any); env.Result["consumer_id"] != id || env.Result["script"] != "p-demo" || st["batch_size"] != 10.0 || st["max_concurrency"] != 2.0 || st["max_retries"] != 3.0 || st["max_wait_time_ms"] != 5000.0 {
		t.Errorf("updated %v", env.Result)
	}
	for _, bad := range []string{
		`{"script_name":"nope","type":"worker"}`,
		`{"type":"worker"}`,
		`{"script_name":"p-demo","type":"push"}`,
		`{"script_name":"p-demo","type":"worker","settings":{"batch_size":101}}`,
		`{"script_name":"p-demo","type":"worker","settings":{"max_wait_time_ms":1.5}}`,
		`{"script_name":"p-demo","type":"worker","dead_letter_queue":"p-jobs"}`,
	} {
		if _, err := qs.Consumers.Update(tctx(t), jobs, id, cu, body(bad)); !errors.As(err, &qe) || (qe.StatusCode != 400 && qe.StatusCode != 404) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	// A dead-letter queue that does not exist is created, as Cloudflare does.
	if _, err := qs.Consumers.Update(tctx(t), jobs, id, cu, body(`{"script_name":"p-demo","type":"worker","dead_letter_queue":"p-new-dlq"}`)); err != nil {
		t.Fatal(err)
	}
	s.Update(func(st *State) {
		if !slices.ContainsFunc(st.Accounts[acct].Queues, func(q *Queue) bool { return q.Name == "p-new-dlq" }) {
			t.Error("the dead-letter queue was not created")
		}
	})
	var cd queues.ConsumerDeleteParams
	cd.AccountID.Value, cd.AccountID.Present = acct, true
	if _, err := qs.Consumers.Delete(tctx(t), jobs, id, cd); err != nil {
		t.Errorf("delete consumer: %v", err)
	}
	if _, err := qs.Consumers.Get(tctx(t), jobs, id, cg); !errors.As(err, &qe) || qe.StatusCode != 404 || qe.Errors[0].Code != 11001 {
		t.Errorf("after delete: %v", err)
	}
	var dp queues.QueueDeleteParams
	dp.AccountID.Value, dp.AccountID.Present = acct, true
	if _, err := qs.Delete(tctx(t), q.QueueID, dp); err != nil {
		t.Errorf("delete queue: %v", err)
	}
}

func TestRouteAndCustomDomainLikeTheProvider(t *testing.T) {
	s, _, _ := demoServer(t)
	rs := workers.NewRouteService(sdkOpts(s)...)
	var np workers.RouteNewParams
	np.ZoneID.Value, np.ZoneID.Present = zone, true
	rt, err := rs.New(tctx(t), np, body(`{"pattern":"p.example.com/*","script":"p-demo"}`))
	if err != nil || rt.ID == "" || rt.Pattern != "p.example.com/*" || rt.Script != "p-demo" {
		t.Fatalf("create route: %+v %v", rt, err)
	}
	var up workers.RouteUpdateParams
	up.ZoneID.Value, up.ZoneID.Present = zone, true
	if got, err := rs.Update(tctx(t), rt.ID, up, body(`{"pattern":"p.example.com/api/*","script":"p-demo"}`)); err != nil || got.ID != rt.ID || got.Pattern != "p.example.com/api/*" {
		t.Errorf("update route: %+v %v", got, err)
	}
	var gp workers.RouteGetParams
	gp.ZoneID.Value, gp.ZoneID.Present = zone, true
	if got, err := rs.Get(tctx(t), rt.ID, gp); err != nil || got.Pattern != "p.example.com/api/*" {
		t.Errorf("get route: %+v %v", got, err)
	}
	if _, err := rs.New(tctx(t), np, body(`{"pattern":"p.example.com/api/*","script":"p-demo"}`)); !isAPIError(err, 409, 10020) {
		t.Errorf("duplicate pattern: %v", err)
	}
	var dp workers.RouteDeleteParams
	dp.ZoneID.Value, dp.ZoneID.Present = zone, true
	if _, err := rs.Delete(tctx(t), rt.ID, dp); err != nil {
		t.Errorf("delete route: %v", err)
	}
	if _, err := rs.Get(tctx(t), rt.ID, gp); !isAPIError(err, 404, 10020) {
		t.Errorf("after delete: %v", err)
	}

	ds := workers.NewDomainService(sdkOpts(s)...)
	var dup workers.DomainUpdateParams
	dup.AccountID.Value, dup.AccountID.Present = acct, true
	d, err := ds.Update(tctx(t), dup, body(`{"hostname":"ai.example.com","service":"p-demo","zone_id":"`+zone+`"}`))
	if err != nil || d.ID == "" || d.Hostname != "ai.example.com" || d.Service != "p-demo" || d.Environment != "production" || d.ZoneID != zone || d.ZoneName != "example.com" || d.CERTID == "" {
		t.Fatalf("attach: %+v %v", d, err)
	}
	var dg workers.DomainGetParams
	dg.AccountID.Value, dg.AccountID.Present = acct, true
	if got, err := ds.Get(tctx(t), d.ID, dg); err != nil || got.Hostname != "ai.example.com" || got.ZoneName != "example.com" {
		t.Errorf("get domain: %+v %v", got, err)
	}
	// Without a zone id, the zone is found by name.
	if got, err := ds.Update(tctx(t), dup, body(`{"hostname":"b.example.com","service":"p-demo"}`)); err != nil || got.ZoneID != zone {
		t.Errorf("by hostname: %+v %v", got, err)
	}
	for _, c := range []struct {
		body   string
		status int
	}{
		{`{"hostname":"ai.other.org","service":"p-demo","zone_id":"` + zone + `"}`, 400},
		{`{"hostname":"ai.example.com","service":"nope","zone_id":"` + zone + `"}`, 404},
		{`{"hostname":"ai.example.com","service":"p-demo","zone_id":"ffffffffffffffffffffffffffffffff"}`, 403},
		{`{"hostname":"https://ai.example.com/","service":"p-demo"}`, 400},
	} {
		var we *workers.Error
		if _, err := ds.Update(tctx(t), dup, body(c.body)); !errors.As(err, &we) || we.StatusCode != c.status {
			t.Errorf("%s: %v, want %d", c.body, err, c.status)
		}
	}
	var dd workers.DomainDeleteParams
	dd.AccountID.Value, dd.AccountID.Present = acct, true
	if _, err := ds.Delete(tctx(t), d.ID, dd); err != nil {
		t.Errorf("detach: %v", err)
	}
	if _, err := ds.Get(tctx(t), d.ID, dg); err == nil {
		t.Error("a detached domain is still there")
	}
}

func TestD1LikeTheProvider(t *testing.T) {
	s, kvID, _, _ := providerServer(t)
	dbs := d1.NewDatabaseService(sdkOpts(s)...)
	var np d1.DatabaseNewParams
	np.AccountID.Value, np.AccountID.Present = acct, true
	db, err := dbs.New(tctx(t), np, body(`{"name":"p-db","primary_location_hint":"weur"}`))
	if err != nil || db.UUID == "" || db.Name != "p-db" || db.Version != "production" || db.CreatedAt.IsZero() {
		t.Fatalf("create: %+v %v", db, err)
	}
	var d1e *d1.Error
	if _, err := dbs.New(tctx(t), np, body(`{"name":"p-db"}`)); !errors.As(err, &d1e) || d1e.Errors[0].Code != 7502 {
		t.Errorf("duplicate: %v", err)
	}
	var gp d1.DatabaseGetParams
	gp.AccountID.Value, gp.AccountID.Present = acct, true
	var raw []byte
	if _, err := dbs.Get(tctx(t), db.UUID, gp, option.WithResponseBodyInto(&raw)); err != nil || strings.Contains(string(raw), "read_replication") {
		t.Errorf("get (read_replication answered only when set): %s %v", raw, err)
	}
	var up d1.DatabaseUpdateParams
	up.AccountID.Value, up.AccountID.Present = acct, true
	if got, err := dbs.Update(tctx(t), db.UUID, up, body(`{"name":"p-db","read_replication":{"mode":"auto"}}`)); err != nil || got.ReadReplication.Mode != "auto" {
		t.Errorf("update: %+v %v", got, err)
	}
	// A d1 binding names it.
	meta := providerMeta(kvID)
	meta["bindings"] = append(meta["bindings"].([]any), map[string]any{"name": "DB", "type": "d1", "database_id": db.UUID})
	if _, _, err := upload(t, s, "p-demo", workerCode, meta); err != nil {
		t.Errorf("upload with a d1 binding: %v", err)
	}
	meta["bindings"].([]any)[7] = map[string]any{"name": "DB", "type": "d1", "id": "00000000-0000-4000-8000-000000000000"}
	if _, _, err := upload(t, s, "p-demo", workerCode, meta); !isAPIError(err, 400, 10181) {
		t.Errorf("unknown database: %v", err)
	}
	var dp d1.DatabaseDeleteParams
	dp.AccountID.Value, dp.AccountID.Present = acct, true
	if _, err := dbs.Delete(tctx(t), db.UUID, dp); err != nil {
		t.Errorf("delete: %v", err)
	}
	if _, err := dbs.Get(tctx(t), db.UUID, gp); !errors.As(err, &d1e) || d1e.StatusCode != 404 || d1e.Errors[0].Code != 7404 {
		t.Errorf("after delete: %v", err)
	}
}

// Every DELETE the provider sends is answered with JSON (the SDK decodes it).
func TestDeletesAnswerJSON(t *testing.T) {
	s, kvID, qid := demoServer(t)
	cons := s.AddConsumer(acct, "p-jobs", Consumer{ScriptName: "p-demo"})
	rt := s.AddRoute(zone, "p.example.com/*", "p-demo")
	dom := s.AddCustomDomain(acct, CustomDomain{Hostname: "p.example.com", Service: "p-demo", ZoneID: zone, ZoneName: "example.com"})
	db := s.AddD1Database(acct, "p-db")
	a := "/accounts/" + acct
	for _, p := range []string{
		a + "/queues/" + qid + "/consumers/" + cons.ID, a + "/workers/scripts/p-demo/subdomain", a + "/workers/domains/" + dom.ID,
		"/zones/" + zone + "/workers/routes/" + rt.ID, a + "/workers/scripts/p-demo", a + "/queues/" + qid,
		a + "/storage/kv/namespaces/" + kvID, a + "/r2/buckets/p-outputs", a + "/d1/database/" + db.UUID,
	} {
		req, _ := http.NewRequest("DELETE", s.BaseURL()+strings.TrimPrefix(p, "/"), nil)
		res, b := send(t, req, token)
		var env map[string]any
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &env) != nil || env["success"] != true {
			t.Errorf("DELETE %s: %d %s %s", p, res.StatusCode, res.Header.Get("Content-Type"), b)
		}
	}
}

// What the fake does not serve is answered as Cloudflare answers a route it
// does not have, and recorded.
func TestUnknownRequestsAreRecorded(t *testing.T) {
	s := New(t, WithToken(token), WithAccount(acct))
	cases := []struct{ method, path string }{
		{"GET", "/client/v4/accounts/" + acct + "/workers/scripts/x/tails"},
		{"PATCH", "/client/v4/accounts/" + acct + "/workers/scripts/x/settings"},
		{"POST", "/client/v4/accounts/" + acct + "/workers/scripts/x/assets-upload-session"},
		{"PUT", "/client/v4/accounts/" + acct + "/storage/kv/namespaces"},
		{"GET", "/client/v4/accounts/" + acct + "/storage/kv/namespaces/"},
		{"GET", "/client/v4/user/tokens/verify"},
		{"GET", "/accounts/" + acct + "/queues"},
		{"DELETE", "/client/v4/accounts/" + acct + "/workers/scripts/x/schedules"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, s.URL+c.path, nil)
		res, b := send(t, req, token)
		if res.StatusCode != 400 || res.Header.Get("x-should-retry") != "false" || res.Header.Get("Content-Type") != "application/json" ||
			string(b) != `{"success":false,"errors":[{"code":7000,"message":"No route for that URI"}],"messages":[],"result":null}` {
			t.Errorf("%s %s: %d %s %s", c.method, c.path, res.StatusCode, res.Header, b)
		}
	}
	u := s.Unknown()
	if len(u) != len(cases) {
		t.Fatalf("recorded %v", u)
	}
	for i, c := range cases {
		if u[i].Method != c.method || !strings.HasSuffix(c.path, u[i].Path) || u[i].Status != 400 {
			t.Errorf("recorded %d: %+v, sent %s %s", i, u[i], c.method, c.path)
		}
	}
	// An unknown route is unknown even without a token; a known one is not.
	if status, _ := get(t, s, "GET", "/accounts/"+acct+"/queues", token); status != 200 || len(s.Unknown()) != len(cases) {
		t.Errorf("a known route was recorded as unknown: %d %v", status, s.Unknown())
	}
	// cloudflare-go sees an ordinary 400, at once (no retries).
	ws := workers.NewScriptService(option.WithBaseURL(s.BaseURL()), option.WithAPIToken(token), option.WithMaxRetries(5))
	var tp workers.ScriptTailGetParams
	tp.AccountID.Value, tp.AccountID.Present = acct, true
	if _, err := ws.Tail.Get(tctx(t), "x", tp); !isAPIError(err, 400, 7000) {
		t.Errorf("through the SDK: %v", err)
	}
	if n := len(s.Unknown()); n != len(cases)+1 {
		t.Errorf("the SDK retried: %d unknown requests", n)
	}
}

// Start serves without a test; the provider's paths work against its URL.
func TestStartWithoutATest(t *testing.T) {
	s, err := Start("127.0.0.1:0", WithAccount(acct), WithZone(zone, "example.com"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.BaseURL(), "http://127.0.0.1:") || !strings.HasSuffix(s.BaseURL(), "/client/v4/") {
		t.Errorf("base URL %s", s.BaseURL())
	}
	ks := kv.NewNamespaceService(option.WithBaseURL(s.BaseURL()), option.WithAPIToken("any-token"), option.WithMaxRetries(0))
	var np kv.NamespaceNewParams
	np.AccountID.Value, np.AccountID.Present = acct, true
	if _, err := ks.New(tctx(t), np, body(`{"title":"t"}`)); err != nil {
		t.Error(err)
	}
	if _, err := Start(strings.TrimPrefix(s.URL, "http://")); err == nil {
		t.Error("a second server on the same port started")
	}
	s.Close()
	s.Close() // twice is fine
	if _, err := ks.New(tctx(t), np, body(`{"title":"t2"}`)); err == nil {
		t.Error("the closed server answered")
	}
}

// The answers the 2024 schema covers validate against it.
func TestProviderAnswersMatchTheSchema(t *testing.T) {
	sp := loadSpec(t)
	s, kvID, _, _ := providerServer(t)
	_, raw, err := upload(t, s, "p-demo", workerCode, providerMeta(kvID))
	if err != nil {
		t.Fatal(err)
	}
	var up any
	_ = json.Unmarshal(raw, &up)
	if err := sp.validate(up, sp.response("/accounts/{account_id}/workers/scripts/{script_name}", "put"), "upload"); err != nil {
		t.Error(err)
	}
	status, sch := do(t, s, "PUT", "/accounts/"+acct+"/workers/scripts/p-demo/schedules", token, `[{"cron":"*/5 * * * *"}]`)
	if status != 200 {
		t.Fatalf("schedules %d", status)
	}
	if err := sp.validate(any(sch), sp.response("/accounts/{account_id}/workers/scripts/{script_name}/schedules", "put"), "schedules"); err != nil {
		t.Error(err)
	}
	status, rt := do(t, s, "POST", "/zones/"+zone+"/workers/routes", token, `{"pattern":"p.example.com/*","script":"p-demo"}`)
	if status != 200 {
		t.Fatalf("route %d", status)
	}
	if err := sp.validate(any(rt), sp.response("/zones/{zone_id}/workers/routes", "post"), "route"); err != nil {
		t.Error(err)
	}
	id := rt["result"].(map[string]any)["id"].(string)
	status, rt = do(t, s, "GET", "/zones/"+zone+"/workers/routes/"+id, token, "")
	if err := sp.validate(any(rt), sp.response("/zones/{zone_id}/workers/routes/{route_id}", "get"), "route"); status != 200 || err != nil {
		t.Errorf("get route %d: %v", status, err)
	}
	status, dom := do(t, s, "PUT", "/accounts/"+acct+"/workers/domains", token, `{"hostname":"p.example.com","service":"p-demo","zone_id":"`+zone+`"}`)
	if err := sp.validate(any(dom), sp.response("/accounts/{account_id}/workers/domains", "put"), "domain"); status != 200 || err != nil {
		t.Errorf("domain %d: %v", status, err)
	}
	status, q := do(t, s, "POST", "/accounts/"+acct+"/queues", token, `{"queue_name":"p-more"}`)
	newerQueueShape(t, q)
	if err := sp.validate(any(q), sp.response("/accounts/{account_id}/queues", "post"), "queue"); status != 200 || err != nil {
		t.Errorf("queue %d: %v", status, err)
	}
	qid := q["result"].(map[string]any)["queue_id"].(string)
	status, c := do(t, s, "POST", "/accounts/"+acct+"/queues/"+qid+"/consumers", token, `{"script_name":"p-demo","type":"worker"}`)
	if err := sp.validate(any(c), sp.response("/accounts/{account_id}/queues/{queue_id}/consumers", "post"), "consumer"); status != 200 || err != nil {
		t.Errorf("consumer %d: %v", status, err)
	}
	status, set := do(t, s, "GET", "/accounts/"+acct+"/workers/scripts/p-demo/settings", token, "")
	result := set["result"].(map[string]any)
	var known []any
	for _, b := range result["bindings"].([]any) {
		if m := b.(map[string]any); m["type"] == "kv_namespace" || m["type"] == "r2_bucket" || m["type"] == "queue" {
			known = append(known, m)
		}
	}
	result["bindings"] = known
	if err := sp.validate(any(set), sp.response("/accounts/{account_id}/workers/scripts/{script_name}/settings", "get"), "settings"); status != 200 || err != nil {
		t.Errorf("settings %d: %v", status, err)
	}
}

func TestSnapshotAndClearFaults(t *testing.T) {
	s, kvID, _ := demoServer(t)
	snap := s.Snapshot()
	a := snap.Accounts[acct]
	a.Scripts[0].Bindings[0].NamespaceID = "changed"
	a.Queues[0].Name = "changed"
	snap.Zones[zone].Name = "changed"
	if sc, _ := s.Script(acct, "p-demo"); sc.Bindings[0].NamespaceID != kvID {
		t.Error("the snapshot shares bindings with the server")
	}
	if again := s.Snapshot(); again.Accounts[acct].Queues[0].Name != "p-jobs" || again.Zones[zone].Name != "example.com" {
		t.Error("the snapshot shares queues or zones with the server")
	}
	if b, _ := a.Scripts[0].Binding("ANTHROPIC_API_KEY"); b.Text != secret {
		t.Errorf("the snapshot's secret binding: %+v", b)
	}
	s.AddFault(Fault{Path: "/accounts/" + acct + "/workers", Status: 404, Errors: []Message{{10007, "gone"}}})
	if status, _ := getJSON(t, s, "/accounts/"+acct+"/workers/scripts/p-demo/settings"); status != 404 {
		t.Errorf("fault: %d", status)
	}
	s.ClearFaults()
	if status, _ := getJSON(t, s, "/accounts/"+acct+"/workers/scripts/p-demo/settings"); status != 200 {
		t.Errorf("after ClearFaults: %d", status)
	}
}

// zerocost deploy rolls a Worker back by deploying its previous version to
// 100%: the script's code and settings then read back as that version's.
func TestRollbackOfAnUploadedScript(t *testing.T) {
	s, kvID, _, _ := providerServer(t)
	meta := providerMeta(kvID)
	if _, _, err := upload(t, s, "p-demo", workerCode, meta); err != nil {
		t.Fatal(err)
	}
	meta["bindings"] = append(meta["bindings"].([]any), map[string]any{"name": "DEBUG", "type": "plain_text", "text": "1"})
	if _, _, err := upload(t, s, "p-demo", workerCode+"// broken\n", meta); err != nil {
		t.Fatal(err)
	}
	ws := workers.NewScriptService(sdkOpts(s)...)
	var sub workers.ScriptSubdomainNewParams
	sub.AccountID.Value, sub.AccountID.Present = acct, true
	if _, err := ws.Subdomain.New(tctx(t), "p-demo", sub, body(`{"enabled":true}`)); err != nil {
		t.Fatal(err)
	}
	vs := s.Versions(acct, "p-demo")
	var np workers.ScriptDeploymentNewParams
	np.AccountID.Value, np.AccountID.Present = acct, true
	d, err := ws.Deployments.New(tctx(t), "p-demo", np,
		body(`{"strategy":"percentage","versions":[{"version_id":"`+vs[0].ID+`","percentage":100}],"annotations":{"workers/message":"rollback"}}`))
	if err != nil || d.Versions[0].VersionID != vs[0].ID {
		t.Fatalf("rollback: %+v %v", d, err)
	}
	sc, _ := s.Script(acct, "p-demo")
	if sc.Code() != workerCode || len(sc.Bindings) != 7 || !sc.WorkersDev {
		t.Errorf("after rollback: code %q, %d bindings, workers.dev %v", sc.Code(), len(sc.Bindings), sc.WorkersDev)
	}
	if b, _ := sc.Binding("ANTHROPIC_API_KEY"); b.Text != secret {
		t.Errorf("the rolled-back secret: %+v", b)
	}
	if status, b := rawGet(t, s, "/accounts/"+acct+"/workers/scripts/p-demo/content/v2", "string"); status != 200 || string(b) != workerCode {
		t.Errorf("content after rollback: %d %q", status, b)
	}
	// A version split leaves the script as it is.
	if _, err := ws.Deployments.New(tctx(t), "p-demo", np, body(`{"strategy":"percentage","versions":[{"version_id":"`+vs[0].ID+`","percentage":50},{"version_id":"`+vs[1].ID+`","percentage":50}]}`)); err != nil {
		t.Fatal(err)
	}
	if sc, _ := s.Script(acct, "p-demo"); sc.Code() != workerCode {
		t.Errorf("a split changed the script")
	}
}

// A service-worker script, as the provider uploads one without main_module.
func TestServiceWorkerUpload(t *testing.T) {
	s, _, _, _ := providerServer(t)
	res, err := uploadParts(t, s, "sw-demo",
		formPart{"script", "script", "application/javascript", "addEventListener('fetch', e => e.respondWith(new Response('sw')))"},
		formPart{"metadata", "", "application/json", `{"body_part":"script","compatibility_date":"","logpush":false,"usage_model":"standard","bindings":[]}`},
	)
	if err != nil {
		t.Fatal(err)
	}
	if res.HasModules {
		t.Error("a service worker has_modules")
	}
	status, b := rawGet(t, s, "/accounts/"+acct+"/workers/scripts/sw-demo/content/v2", "string")
	if status != 200 || string(b) != "addEventListener('fetch', e => e.respondWith(new Response('sw')))" {
		t.Errorf("content %d %q", status, b)
	}
}
