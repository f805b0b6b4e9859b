package reliability

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/devrun"
)

// One product per pattern, with small input caps so "too large" is cheap.
const badInputStack = `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:products:
    - name: agent
      pattern: event-agent
      tiers: {standard: 1000000}
      settings:
        maxInputChars: 500
    - name: pipe
      pattern: async-pipeline
      tiers: {standard: 1000000, door: 100}
      settings:
        batchSize: 1
        batchTimeoutSeconds: 1
        maxRetries: 1
        retryDelaySeconds: 1
        maxInputChars: 500
    - name: relay
      pattern: edge-cache
      tiers: {standard: 1000000, door: 30}
      settings:
        maxInputChars: 500
`

const badInputToken = "reliability-token-4f1c"

// badCase is one malformed request. path may hold {id}, a known job's id.
type badCase struct {
	name    string
	method  string
	path    string
	body    []byte
	header  []string // name, value pairs; "Content-Type" defaults to application/json for bodies
	noAuth  bool     // send no Authorization header (the auth cases set their own)
	chunked bool     // send the body without Content-Length
}

func repeatJSON(open, close string, depth int) []byte {
	return []byte(strings.Repeat(open, depth) + strings.Repeat(close, depth))
}

// postCorpus is the malformed bodies, content types and methods for a POST route.
func postCorpus(path string, pipeline bool) []badCase {
	big := strings.Repeat("x", 501)
	raw := func(name, body string) badCase {
		return badCase{name: name, method: "POST", path: path, body: []byte(body)}
	}
	cs := []badCase{
		// Not JSON.
		raw("empty body", ""),
		raw("whitespace", "  \n\t "),
		raw("open brace", "{"),
		raw("missing value", `{"input":}`),
		raw("trailing comma", `{"input":"a",}`),
		raw("trailing garbage", `{"input":"a"} x`),
		raw("two objects", `{"input":"a"}{"input":"b"}`),
		raw("single quotes", `{'input':'a'}`),
		raw("unquoted key", `{input:"a"}`),
		raw("NaN", `{"input":NaN}`),
		raw("comment", `{"input":"a" /* c */}`),
		raw("bad escape", `{"input":"\x"}`),
		raw("truncated unicode escape", `{"input":"\u12"}`),
		raw("raw control character", "{\"input\":\"a\x01b\"}"),
		raw("NUL byte", "\x00"),
		raw("deep arrays", string(repeatJSON("[", "]", 100_000))),
		raw("deep objects", strings.Repeat(`{"a":`, 50_000)+"1"+strings.Repeat("}", 50_000)),
		// JSON of the wrong shape or types.
		raw("null", "null"),
		raw("a number", "5"),
		raw("a string", `"input"`),
		raw("an array", `[{"input":"a"}]`),
		raw("an empty object", "{}"),
		raw("input null", `{"input":null}`),
		raw("input a number", `{"input":42}`),
		raw("input true", `{"input":true}`),
		raw("input an array", `{"input":["a"]}`),
		raw("input an object", `{"input":{"text":"a"}}`),
		raw("input empty", `{"input":""}`),
		raw("input blank", `{"input":" \n\t "}`),
		raw("input a lone surrogate", `{"input":"a\ud800b"}`),
		raw("input invisible characters only", `{"input":"\u200b\u2060\ufeff\u200d"}`),
		raw("input tag characters only", `{"input":"\udb40\udc01\udb40\udc53\udb40\udc59\udb40\udc7f"}`),
		raw("input control characters only", `{"input":"\u0001\u0002\u007f \u3164"}`),
		raw("input a lone low surrogate", `{"input":"\udc00"}`),
		raw("input too long", fmt.Sprintf(`{"input":%q}`, big)),
		raw("input too long in 4-byte characters", `{"input":"`+strings.Repeat("😀", 501)+`"}`),
		raw("wrong key", `{"inptu":"a"}`),
		// Huge bodies.
		{name: "5 MB body", method: "POST", path: path, body: []byte(`{"input":"a","pad":"` + strings.Repeat("x", 5<<20) + `"}`)},
		{name: "5 MB body, chunked", method: "POST", path: path, body: []byte(`{"input":"a","pad":"` + strings.Repeat("x", 5<<20) + `"}`), chunked: true},
		{name: "valid JSON padded past the cap", method: "POST", path: path, body: []byte(`{"input":"a"}` + strings.Repeat(" ", 3<<20))},
		// Not UTF-8.
		raw("invalid UTF-8 byte", "{\"input\":\"\xff\xfe\"}"),
		raw("overlong encoding", "{\"input\":\"\xc0\xaf\"}"),
		raw("truncated sequence", "{\"input\":\"\xe2\x82\"}"),
		raw("encoded surrogate", "{\"input\":\"\xed\xa0\x80\"}"),
		raw("latin-1", "{\"input\":\"caf\xe9\"}"),
		{name: "UTF-16 with BOM", method: "POST", path: path, body: utf16(`{"input":"a"}`)},
		// Content types.
		{name: "no content type", method: "POST", path: path, body: []byte(`{"input":"a"}`), header: []string{"Content-Type", ""}},
		{name: "text/plain", method: "POST", path: path, body: []byte(`{"input":"a"}`), header: []string{"Content-Type", "text/plain"}},
		{name: "form", method: "POST", path: path, body: []byte("input=a"), header: []string{"Content-Type", "application/x-www-form-urlencoded"}},
		{name: "multipart", method: "POST", path: path, body: []byte("--b\r\nContent-Disposition: form-data; name=\"input\"\r\n\r\na\r\n--b--\r\n"), header: []string{"Content-Type", "multipart/form-data; boundary=b"}},
		{name: "text/json", method: "POST", path: path, body: []byte(`{"input":"a"}`), header: []string{"Content-Type", "text/json"}},
		{name: "json with latin-1 charset", method: "POST", path: path, body: []byte(`{"input":"a"}`), header: []string{"Content-Type", "application/json; charset=iso-8859-1"}},
		{name: "json-seq", method: "POST", path: path, body: []byte(`{"input":"a"}`), header: []string{"Content-Type", "application/json-seq"}},
		{name: "two content types", method: "POST", path: path, body: []byte(`{"input":"a"}`), header: []string{"Content-Type", "application/json, text/plain"}},
	}
	if pipeline {
		hundredOne := make([]string, 101)
		for i := range hundredOne {
			hundredOne[i] = "a"
		}
		cs = append(cs,
			raw("input and inputs", `{"input":"a","inputs":["b"]}`),
			raw("inputs a string", `{"inputs":"a"}`),
			raw("inputs an object", `{"inputs":{"0":"a"}}`),
			raw("inputs empty", `{"inputs":[]}`),
			raw("inputs with a number", `{"inputs":["a",1]}`),
			raw("inputs with null", `{"inputs":[null]}`),
			raw("inputs with a blank", `{"inputs":["a","  "]}`),
			raw("inputs with an invisible one", `{"inputs":["a","\u200b\u200c"]}`),
			raw("inputs with a lone surrogate", `{"inputs":["\ud83d"]}`),
			raw("inputs with one too long", fmt.Sprintf(`{"inputs":["a",%q]}`, big)),
			raw("101 inputs", string(jsonMust(map[string]any{"inputs": hundredOne}))),
			raw("nested inputs", `{"inputs":[["a"]]}`),
		)
	}
	for _, m := range []string{"GET", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"} {
		cs = append(cs, badCase{name: m + " " + path, method: m, path: path})
	}
	return cs
}

func utf16(s string) []byte {
	out := []byte{0xfe, 0xff}
	for _, r := range s {
		out = append(out, byte(r>>8), byte(r))
	}
	return out
}

func jsonMust(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// pathCorpus: unknown paths and bad ids, for every product.
func pathCorpus(jobs bool) []badCase {
	paths := []string{"/", "/job", "/jobs/", "/JOBS", "/Jobs/{id}", "/jobs/{id}/", "/jobs/{id}/result", "//jobs",
		"/jobs/not-a-uuid", "/jobs/00000000-0000-0000-0000-000000000000", "/jobs/%00", "/jobs/%2e%2e", "/jobs/..%2fhealth",
		"/jobs/" + strings.Repeat("a", 4000), "/health/", "/healthz", "/.env", "/ask/", "/ask/x", "/%ff", "/jobs/{id}%20"}
	var cs []badCase
	for _, p := range paths {
		if !jobs && strings.Contains(p, "{id}") {
			p = strings.ReplaceAll(p, "{id}", "00000000-0000-0000-0000-000000000001")
		}
		cs = append(cs, badCase{name: "GET " + p, method: "GET", path: p})
	}
	if jobs {
		cs = append(cs,
			badCase{name: "POST /jobs/{id}", method: "POST", path: "/jobs/{id}", body: []byte(`{"input":"a"}`)},
			badCase{name: "DELETE /jobs/{id}", method: "DELETE", path: "/jobs/{id}"},
			badCase{name: "PUT /jobs/{id}", method: "PUT", path: "/jobs/{id}", body: []byte(`{"status":"done"}`)},
		)
	}
	cs = append(cs, badCase{name: "POST /health", method: "POST", path: "/health", body: []byte(`{}`)})
	return cs
}

// authCorpus: a missing or wrong bearer token, on every route.
func authCorpus(routes []string) []badCase {
	var cs []badCase
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		var body []byte
		if method == "POST" {
			body = []byte(`{"input":"a valid input"}`)
		}
		for _, h := range [][]string{
			nil,
			{"Authorization", ""},
			{"Authorization", "Bearer"},
			{"Authorization", "Bearer "},
			{"Authorization", "Bearer wrong-token"},
			{"Authorization", "Bearer " + badInputToken + "x"},
			{"Authorization", "Bearer " + badInputToken[:len(badInputToken)-1]},
			{"Authorization", "Bearer " + strings.ToUpper(badInputToken)},
			{"Authorization", "Bearer " + badInputToken + " extra"},
			{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+badInputToken))},
			{"Authorization", badInputToken},
			{"Authorization", "Token " + badInputToken},
			{"Authorization", "Bearer wrong", "Authorization", "Bearer " + badInputToken},
			{"X-Auth-Token", badInputToken},
			{"Authorization", "Bearer " + strings.Repeat("x", 8000)},
		} {
			name := fmt.Sprintf("%s %s with %q", method, path, h)
			if len(name) > 120 {
				name = name[:120] + "…"
			}
			cs = append(cs, badCase{name: name, method: method, path: path, body: body, header: h, noAuth: true})
		}
		cs = append(cs, badCase{name: r + " with the token in the query", method: method, path: path + "?token=" + badInputToken, body: body, noAuth: true})
	}
	return cs
}

// store is what must not change: the stand-in's calls, the R2 keys of every
// product, and the known jobs' views.
type store struct {
	calls int64
	keys  map[string][]string
	views map[string]string
}

func snapshot(t *testing.T, env *Env, known map[string]string) store {
	t.Helper()
	s := store{calls: env.RT.Model().Stats().Total, keys: map[string][]string{}, views: map[string]string{}}
	for _, pr := range env.Plan.Products {
		for _, b := range pr.R2Buckets {
			k, err := env.R2Keys(b.Name, "")
			if err != nil {
				t.Fatal(err)
			}
			s.keys["r2 "+b.Name] = k
		}
	}
	for product, id := range known {
		r, err := env.Do(http.MethodGet, env.URL(product)+"/jobs/"+id, nil, "Authorization", "Bearer "+badInputToken)
		if err != nil {
			t.Fatal(err)
		}
		s.views[product] = fmt.Sprintf("%d %s", r.Status, r.Body)
	}
	return s
}

// Bad input against every product: only 4xx with a JSON error, never a 5xx;
// no model call, no R2 key added or removed, known jobs unchanged; the
// Workers keep serving.
func TestBadInput(t *testing.T) {
	dir := project(t, "rel", badInputStack, nil)
	env, logs := start(t, dir, "rel", devmodel.Options{}, func(o *devrun.Options) { o.AuthToken = badInputToken })
	auth := []string{"Authorization", "Bearer " + badInputToken}

	// A finished job in each job product, to see that nothing touches it.
	known := map[string]string{}
	for _, product := range []string{"agent", "pipe"} {
		known[product] = postJob(t, env, product, "a known job", auth)
	}
	// A known question, cached: its store in ctx.waitUntil is done once it HITs.
	askRelay(t, env, "a known question", auth)
	before := snapshot(t, env, known)

	corpus := map[string][]badCase{
		"agent": append(append(postCorpus("/jobs", false), pathCorpus(true)...), authCorpus([]string{"POST /jobs", "GET /jobs/{id}", "GET /nope"})...),
		"pipe":  append(append(postCorpus("/jobs", true), pathCorpus(true)...), authCorpus([]string{"POST /jobs", "GET /jobs/{id}"})...),
		"relay": append(append(postCorpus("/ask", false), pathCorpus(false)...), authCorpus([]string{"POST /ask", "GET /ask"})...),
	}
	total, byStatus := 0, map[int]int{}
	for _, product := range []string{"agent", "pipe", "relay"} {
		base := env.URL(product)
		for _, c := range corpus[product] {
			status, body, hdr, err := send(env, base, c, known[product], auth)
			if err != nil {
				t.Errorf("%s: %s: %v", product, c.name, err)
				continue
			}
			total++
			byStatus[status]++
			if status < 400 || status > 499 {
				t.Errorf("%s: %s: %d %s, want a 4xx", product, c.name, status, clip(body))
				continue
			}
			if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Errorf("%s: %s: %d with Content-Type %q", product, c.name, status, hdr.Get("Content-Type"))
			}
			if c.method == "HEAD" {
				continue // no body
			}
			code, err := errorShape(body)
			if err != nil {
				t.Errorf("%s: %s: %d: %v", product, c.name, status, err)
				continue
			}
			switch {
			case status == 405 && hdr.Get("Allow") == "":
				t.Errorf("%s: %s: 405 without Allow", product, c.name)
			case status == 401 && code != "unauthorized" && code != "invalid_key":
				t.Errorf("%s: %s: 401 %s", product, c.name, code)
			}
			if c.noAuth && status != 401 {
				t.Errorf("%s: %s: %d %s, want 401", product, c.name, status, code)
			}
		}
	}
	t.Logf("%d malformed requests: %v", total, byStatus)
	for product, path := range map[string]string{"agent": "/jobs", "pipe": "/jobs", "relay": "/ask"} {
		t.Logf("%s: broken bodies (0: the connection ended): %v", product, checkFraming(t, env, product, path, auth))
	}

	// Markers, sent after the corpus, each a model call: a job on the agent
	// and on the pipeline (whose queue hands out one batch at a time, in
	// order: once the marker is done, whatever the corpus had queued was
	// handled), and a new question on the relay (cached once its store is
	// done). Then the stand-in has made exactly these three calls more, and
	// the stores hold exactly the markers' keys more.
	markers := map[string][]string{} // snapshot key -> the keys the markers add
	for _, product := range []string{"agent", "pipe"} {
		id := postJob(t, env, product, "a marker after the corpus", auth)
		pr := env.Plan.Product(product)
		markers["r2 "+pr.R2Buckets[0].Name] = []string{JobKey(id)}
	}
	askRelay(t, env, "a marker question after the corpus", auth)
	after := snapshot(t, env, known)
	if after.calls != before.calls+3 {
		t.Errorf("the corpus made %d model calls (the markers made 3)", after.calls-before.calls-3)
	}
	relayCache := "r2 " + env.Plan.Product("relay").R2Buckets[0].Name
	for k, v := range before.keys {
		added, removed := keyDiff(v, after.keys[k])
		want := markers[k]
		if k == relayCache && len(added) == 1 && strings.HasPrefix(added[0], "answers/") {
			want = added // the marker question's key
		}
		if len(removed) > 0 || !slices.Equal(added, want) {
			t.Errorf("%s changed: added %v (the markers add %v), removed %v", k, added, want, removed)
		}
	}
	for p, v := range before.views {
		if after.views[p] != v {
			t.Errorf("%s's known job changed: %s -> %s", p, v, after.views[p])
		}
	}
	// Still serving; HEAD answers wherever GET does.
	for _, product := range []string{"agent", "pipe", "relay"} {
		if r, err := env.Do(http.MethodGet, env.URL(product)+"/health", nil); err != nil || r.Status != 200 {
			t.Errorf("%s /health after the corpus: %v %v", product, err, r)
		}
		if r, err := env.Do(http.MethodHead, env.URL(product)+"/health", nil); err != nil || r.Status != 200 || len(r.Body) != 0 {
			t.Errorf("%s HEAD /health: %v %v", product, err, r)
		}
	}
	for product, id := range known {
		if r, err := env.Do(http.MethodHead, env.URL(product)+"/jobs/"+id, nil, auth...); err != nil || r.Status != 200 || len(r.Body) != 0 {
			t.Errorf("%s HEAD /jobs/{id}: %v %v", product, err, r)
		}
	}
	if r, err := env.Do(http.MethodPost, env.URL("relay")+"/ask", []byte(`{"input":"a known question"}`), append([]string{"Content-Type", "application/json"}, auth...)...); err != nil || r.Status != 200 || r.Header.Get("x-cache") != "HIT" {
		t.Errorf("relay after the corpus: %v %v", err, r)
	}
	if strings.Contains(logs.String(), "internal error") {
		t.Error("a Worker logged an internal error")
	}
	checkDoor(t, env, auth)
}

// postJob posts one job to a job product and waits until it is done (at
// most 30 s); it returns the job's id.
func postJob(t *testing.T, env *Env, product, input string, auth []string) string {
	t.Helper()
	r, err := env.Do(http.MethodPost, env.URL(product)+"/jobs", jsonBody(t, map[string]string{"input": input}), append([]string{"Content-Type", "application/json"}, auth...)...)
	if err != nil || r.Status != 202 {
		t.Fatalf("%s: POST /jobs: %v %v", product, err, r)
	}
	id, _ := r.JSON()["job_id"].(string)
	ctx := deadline(t, 30*time.Second)
	for {
		r, err := env.Do(http.MethodGet, env.URL(product)+"/jobs/"+id, nil, auth...)
		if err != nil {
			t.Fatal(err)
		}
		if r.JSON()["status"] == "done" {
			return id
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: job %s (%q) not done within 30 s: %s", product, id, input, r.Body)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// askRelay asks the relay a question until the answer comes from the cache
// (at most 20 s): its store in ctx.waitUntil is then done.
func askRelay(t *testing.T, env *Env, question string, auth []string) {
	t.Helper()
	ctx := deadline(t, 20*time.Second)
	for {
		r, err := env.Do(http.MethodPost, env.URL("relay")+"/ask", jsonBody(t, map[string]string{"input": question}), append([]string{"Content-Type", "application/json"}, auth...)...)
		if err != nil || r.Status != 200 {
			t.Fatalf("relay: %v %v", err, r)
		}
		if r.Header.Get("x-cache") == "HIT" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("relay: %q not cached within 20 s", question)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// send sends one case. Bodies over 1 MB go over a raw connection that reads
// the answer while it writes: the Worker answers 413 and closes before the body
// is all sent, which Go's client reports as a broken pipe instead of the answer.
func send(env *Env, base string, c badCase, id string, auth []string) (int, []byte, http.Header, error) {
	path := strings.ReplaceAll(c.path, "{id}", id)
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
		if c.chunked {
			body = io.MultiReader(bytes.NewReader(c.body)) // unknown length: chunked
		}
	}
	req, err := http.NewRequest(c.method, base+path, body)
	if err != nil {
		return 0, nil, nil, err
	}

	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !c.noAuth {
		req.Header.Set(auth[0], auth[1])
	}
	for i := 0; i+1 < len(c.header); i += 2 {
		if c.header[i+1] == "" {
			req.Header.Del(c.header[i])
			continue
		}
		if c.header[i] == "Content-Type" {
			req.Header.Set(c.header[i], c.header[i+1])
		} else {
			req.Header.Add(c.header[i], c.header[i+1])
		}
	}
	// A Worker answers a body past its limit (413) before the client has
	// written all of it, and closes: Client.Do may then report the broken
	// pipe instead of the answer. Bodies larger than a socket buffer go
	// through sendRaw, which reads the answer while it writes.
	if len(c.body) > 16<<10 {
		return sendRaw(env.WithKey(req))
	}
	resp, err := env.Client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, data, resp.Header, err
}

// sendRaw writes the request on its own connection while reading the answer.
func sendRaw(req *http.Request) (int, []byte, http.Header, error) {
	conn, err := net.DialTimeout("tcp", req.URL.Host, 5*time.Second)
	if err != nil {
		return 0, nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	req.Close = true
	go func() { _ = req.Write(conn) }() // fails once the Worker has answered and closed: expected
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, data, resp.Header, err
}
