package devrun

import (
	"encoding/json"
	"fmt"
	"github.com/zerocost/zerocost/internal/devrun/devruntest"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/nodetool"
	"github.com/zerocost/zerocost/internal/stack/stacktest"
)

// needNode fails (never skips) when the runtime's dependencies are missing:
// CI installs them with `make deps`.
func needNode(t *testing.T) {
	t.Helper()
	if _, err := nodetool.Find(projectDir); err != nil {
		t.Fatalf("the local runtime tests need Node >= 22.12 and workers-src/node_modules: %v", err)
	}
}

func newLog(t *testing.T) *devruntest.Log { return devruntest.NewLog(t, 20000) }

func start(t *testing.T, o Options) *Runtime {
	t.Helper()
	needNode(t)
	rt, err := Start(t.Context(), o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = rt.Stop() })
	t.Logf("%s ready in %s", o.Stack, rt.ReadyIn().Round(time.Millisecond))
	remember(rt)
	return rt
}

// remember notes the runtime's dev keys for call.
func remember(rt *Runtime) {
	for _, p := range rt.Products() {
		if p.Key != "" {
			testKeys.Store(p.URL, p.Key)
		}
	}
}

// testKeys are the keys dev created, by product URL: call sends a product's
// key as x-api-key unless the request names its own credential.
var testKeys sync.Map

var client = &http.Client{Timeout: 30 * time.Second}

func call(t *testing.T, method, u, body string, header ...string) (int, http.Header, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	own := false
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
		own = own || strings.EqualFold(header[i], "x-api-key")
	}
	testKeys.Range(func(k, v any) bool {
		if !own && strings.HasPrefix(u, k.(string)+"/") && !strings.Contains(u, "/admin/") {
			req.Header.Set("x-api-key", v.(string))
		}
		return true
	})
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s %s: %d, not a JSON object: %q", method, u, resp.StatusCode, data)
	}
	return resp.StatusCode, resp.Header, m
}

// waitJob polls GET /jobs/:id until the status is one of want, within limit.
func waitJob(t *testing.T, base, id string, limit time.Duration, want ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last map[string]any
	for i := 0; i < 10000 && time.Now().Before(deadline); i++ {
		code, _, m := call(t, http.MethodGet, base+"/jobs/"+id, "")
		if code != http.StatusOK {
			t.Fatalf("GET /jobs/%s: %d %v", id, code, m)
		}
		last = m
		for _, w := range want {
			if m["status"] == w {
				return m
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("job %s not %v within %s: last %v", id, want, limit, last)
	return nil
}

func TestDemoStack(t *testing.T) {
	logs := newLog(t)
	data := t.TempDir()
	rt := start(t, Options{ProjectDir: projectDir, Stack: "demo", DataDir: data, Log: logs})
	if rt.ReadyIn() > 5*time.Second {
		t.Logf("NOTE: ready in %s, over the 5 s goal (a loaded machine?)", rt.ReadyIn())
	}
	pid := rt.PID()

	// The state file names what runs.
	st, err := ReadStateFile(filepath.Join(data, "dev", "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Stack != "demo" || st.PID != os.Getpid() || !st.Model.StandIn || st.Model.URL != rt.Model().URL || len(st.Products) != 4 {
		t.Errorf("state %+v", st)
	}
	checkDevKeys(t, data, st)

	want := map[string]string{"sales-engine": "event-agent", "email-worker": "async-pipeline", "ai-relay": "edge-cache", "delivery-worker": "event-agent"}
	if len(rt.Products()) != len(want) {
		t.Fatalf("products %+v", rt.Products())
	}
	for _, p := range rt.Products() {
		if want[p.Name] != p.Pattern || !strings.HasPrefix(p.URL, "http://127.0.0.1:") {
			t.Errorf("product %+v", p)
		}
		code, _, m := call(t, http.MethodGet, p.URL+"/health", "")
		if code != 200 || m["product"] != p.Name || m["pattern"] != p.Pattern {
			t.Errorf("%s /health: %d %v", p.Name, code, m)
		}
	}

	t.Run("event-agent", func(t *testing.T) {
		for _, name := range []string{"sales-engine", "delivery-worker"} {
			base := rt.Product(name).URL
			code, _, m := call(t, http.MethodPost, base+"/jobs", `{"input":"Order 1234: two boxes, leave them at the back door."}`)
			id, _ := m["job_id"].(string)
			if code != http.StatusAccepted || id == "" {
				t.Fatalf("%s POST /jobs: %d %v", name, code, m)
			}
			done := waitJob(t, base, id, 20*time.Second, "done", "failed")
			if done["status"] != "done" || !strings.Contains(fmt.Sprint(done["result"]), devmodel.Marker) {
				t.Errorf("%s job: %v", name, done)
			}
		}
	})

	t.Run("async-pipeline", func(t *testing.T) {
		base := rt.Product("email-worker").URL
		// Five inputs fill one batch (the demo's batchSize), so the consumer
		// gets it at once instead of after the 10 s batch timeout.
		code, _, m := call(t, http.MethodPost, base+"/jobs", `{"inputs":["Ada","Grace","Linus","Barbara","Ken"]}`)
		ids, _ := m["job_ids"].([]any)
		if code != http.StatusAccepted || len(ids) != 5 {
			t.Fatalf("POST /jobs: %d %v", code, m)
		}
		for _, id := range ids {
			done := waitJob(t, base, id.(string), 30*time.Second, "done", "failed", "dead")
			if done["status"] != "done" || !strings.Contains(fmt.Sprint(done["result"]), devmodel.Marker) {
				t.Errorf("job %v", done)
			}
		}
	})

	t.Run("edge-cache", func(t *testing.T) {
		base := rt.Product("ai-relay").URL
		code, h, first := call(t, http.MethodPost, base+"/ask", `{"input":"What is a Cloudflare Worker?"}`)
		if code != 200 || h.Get("x-cache") != "MISS" {
			t.Fatalf("first ask: %d %s %v", code, h.Get("x-cache"), first)
		}
		// The answer is stored in ctx.waitUntil, just after the response.
		var hit map[string]any
		for i := 0; i < 50 && hit == nil; i++ {
			code, h, m := call(t, http.MethodPost, base+"/ask", `{"input":"  What is a Cloudflare\u00a0Worker?\u200b\r\n"}`)
			if code != 200 {
				t.Fatalf("second ask: %d %v", code, m)
			}
			if h.Get("x-cache") == "HIT" {
				hit = m
			} else {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if hit == nil || fmt.Sprint(hit["answer"]) != fmt.Sprint(first["answer"]) {
			t.Errorf("no HIT with the first answer for a variant in spacing and invisible characters: %v", hit)
		}
		// Case and punctuation reach the model, so they are another question.
		code, h, m := call(t, http.MethodPost, base+"/ask", `{"input":"what is a cloudflare worker"}`)
		if code != 200 || h.Get("x-cache") != "MISS" {
			t.Errorf("variant in case and punctuation: %d %s %v (the model sees it: a MISS)", code, h.Get("x-cache"), m)
		}
	})

	// The stand-in counted the calls, over HTTP too.
	code, h, stats := call(t, http.MethodGet, rt.Model().URL+devmodel.StatsPath, "")
	if code != 200 || h.Get(devmodel.Header) != "true" || stats["stand_in"] != true || stats["total"].(float64) < 8 {
		t.Errorf("stats %d %v", code, stats)
	}
	if s := rt.Model().Stats(); s.ByStatus["200"] != s.Total {
		t.Errorf("failed model calls: %+v", s)
	}

	ports := portsOf(t, rt)
	if err := rt.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	checkStopped(t, rt, pid, ports)
	if _, err := os.Stat(filepath.Join(data, "dev", "demo.json")); !os.IsNotExist(err) {
		t.Errorf("state file left behind: %v", err)
	}
	if !strings.Contains(logs.String(), "stand-in model:") {
		t.Error("the stand-in did not log its calls")
	}
}

func portsOf(t *testing.T, rt *Runtime) []int {
	var ports []int
	for _, p := range append(rt.Products(), Product{URL: rt.ModelInfo().URL}) {
		u, err := url.Parse(p.URL)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(u.Port())
		ports = append(ports, n)
	}
	return ports
}

// checkStopped checks that every port is free again and that no process of
// the runner's group (Node, workerd) is left.
func checkStopped(t *testing.T, rt *Runtime, pid int, ports []int) {
	t.Helper()
	select {
	case <-rt.Done():
	default:
		t.Error("runner still running after Stop")
	}
	for _, port := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(port)))
		if err != nil {
			t.Errorf("port %d still taken after Stop: %v", port, err)
			continue
		}
		ln.Close()
	}
	if runtime.GOOS == "linux" {
		if left := groupMembers(pid); len(left) > 0 {
			t.Errorf("processes left in the runner's group %d: %v", pid, left)
		}
	}
}

// groupMembers lists the live (non-zombie) processes of a process group, from /proc.
func groupMembers(pgid int) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid pgrp ...
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			out = append(out, e.Name()+" "+s[strings.IndexByte(s, '(')+1:i])
		}
	}
	return out
}

// A small project of its own: one async pipeline whose consumer waits 1 s for
// a batch and retries once after 1 s, so failures reach the dead-letter queue
// in seconds.
func fastProject(t *testing.T) string {
	t.Helper()
	return stacktest.Project(t, "fast", `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:products:
    - name: pipe
      pattern: async-pipeline
      systemPrompt: Answer in one word.
      settings:
        batchSize: 2
        batchTimeoutSeconds: 1
        maxRetries: 1
        retryDelaySeconds: 1
`, nil)
}

// Failing model calls go through the plan's retries to the dead-letter queue;
// state survives a restart and --reset clears it; ports can be fixed; the
// auth token guards the admin routes, the customer key the product's.
func TestRetriesDeadLetterAndPersistence(t *testing.T) {
	dir := fastProject(t)
	toolsDir, _ := filepath.Abs(projectDir)
	data := t.TempDir()
	opts := Options{ProjectDir: dir, Stack: "fast", ToolsDir: toolsDir, DataDir: data, Log: newLog(t)}

	// 1. Every model call fails: the job ends dead, through the DLQ.
	o := opts
	o.StandIn = devmodel.Options{ErrorRate: 1}
	rt := start(t, o)
	base := rt.Product("pipe").URL
	code, _, m := call(t, http.MethodPost, base+"/jobs", `{"input":"doomed"}`)
	deadID, _ := m["job_id"].(string)
	if code != http.StatusAccepted || deadID == "" {
		t.Fatalf("POST /jobs: %d %v", code, m)
	}
	dead := waitJob(t, base, deadID, 40*time.Second, "dead", "done")
	if dead["status"] != "dead" {
		t.Fatalf("job %v, want dead", dead)
	}
	if s := rt.Model().Stats(); s.ByStatus["200"] != 0 || s.ByStatus["500"]+s.ByStatus["529"] < 2 {
		t.Errorf("stand-in stats %+v: want at least one failed call per delivery (max_retries 1 = 2 deliveries)", s)
	}
	pid, ports := rt.PID(), portsOf(t, rt)
	if err := rt.Stop(); err != nil {
		t.Fatal(err)
	}
	checkStopped(t, rt, pid, ports)

	// 2. Restart on fixed ports without --reset: the dead job is still there;
	// a new job succeeds. AUTH_TOKEN guards every route but /health.
	var rt2 *Runtime
	for attempt := 0; attempt < 5 && rt2 == nil; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		o = opts
		o.PortBase = base
		o.AuthToken = "s3cret"
		needNode(t)
		r, err := Start(t.Context(), o)
		if err != nil {
			if IsUsage(err) && strings.Contains(err.Error(), "is taken") {
				continue // another process took base+1: try elsewhere
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Stop() })
		remember(r)
		rt2 = r
		if got := rt2.Product("pipe").URL; got != fmt.Sprintf("http://127.0.0.1:%d", base) {
			t.Errorf("--port-base %d: product at %s", base, got)
		}
		if got := rt2.ModelInfo().URL; got != fmt.Sprintf("http://127.0.0.1:%d", base+1) {
			t.Errorf("--port-base %d: stand-in at %s", base, got)
		}
	}
	if rt2 == nil {
		t.Fatal("no free pair of ports found")
	}
	base = rt2.Product("pipe").URL
	if code, _, m := call(t, http.MethodGet, base+"/jobs/"+deadID, "", "x-api-key", ""); code != http.StatusUnauthorized || m["error"].(map[string]any)["code"] != "invalid_key" {
		t.Errorf("no customer key: %d %v", code, m)
	}
	if code, _, m := call(t, http.MethodGet, base+"/admin/budget", ""); code != http.StatusUnauthorized {
		t.Errorf("an admin route without the bearer token: %d %v", code, m)
	}
	if code, _, _ := call(t, http.MethodGet, base+"/health", ""); code != 200 {
		t.Errorf("/health with AUTH_TOKEN set: %d", code)
	}
	if code, _, m := call(t, http.MethodGet, base+"/admin/budget", "", "Authorization", "Bearer s3cret"); code == http.StatusUnauthorized {
		t.Errorf("an admin route with the bearer token: %d %v", code, m)
	}
	// The product's routes take the customer key (call sends dev's).
	code, _, m = call(t, http.MethodGet, base+"/jobs/"+deadID, "")
	if code != 200 || m["status"] != "dead" {
		t.Errorf("after a restart: %d %v, want the dead job", code, m)
	}
	code, _, m = call(t, http.MethodPost, base+"/jobs", `{"input":"fine"}`)
	okID, _ := m["job_id"].(string)
	if code != http.StatusAccepted || okID == "" {
		t.Fatalf("POST /jobs: %d %v", code, m)
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		_, _, m = call(t, http.MethodGet, base+"/jobs/"+okID, "")
		if m["status"] == "done" || i > 500 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if m["status"] != "done" {
		t.Errorf("job %v, want done", m)
	}
	if err := rt2.Stop(); err != nil {
		t.Fatal(err)
	}

	// 3. --reset: the job records are gone. The id still proves the job (it
	// is signed, and young), so with no record it reads queued, not dead.
	o = opts
	o.Reset = true
	rt3 := start(t, o)
	if code, _, m := call(t, http.MethodGet, rt3.Product("pipe").URL+"/jobs/"+deadID, ""); code != http.StatusOK || m["status"] != "queued" {
		t.Errorf("after --reset: %d %v, want the job without its record (queued)", code, m)
	}
	if err := rt3.Stop(); err != nil {
		t.Fatal(err)
	}
}

// Two runtimes cannot share a stack's state.
func TestSecondStartRefused(t *testing.T) {
	dir := fastProject(t)
	toolsDir, _ := filepath.Abs(projectDir)
	opts := Options{ProjectDir: dir, Stack: "fast", ToolsDir: toolsDir, DataDir: t.TempDir(), Log: newLog(t)}
	rt := start(t, opts)
	if _, err := Start(t.Context(), opts); err == nil || !strings.Contains(err.Error(), "already runs") {
		t.Errorf("second Start: %v", err)
	}
	// The refused start did not disturb the first.
	if code, _, _ := call(t, http.MethodGet, rt.Product("pipe").URL+"/health", ""); code != 200 {
		t.Errorf("first runtime after a refused start: %d", code)
	}
}
