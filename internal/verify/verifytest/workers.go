package verifytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/devrun/devruntest"
	"github.com/zerocost/zerocost/internal/plan/plantest"
)

// StartWorkers runs a plan's real Workers on workerd: the local runtime of
// `zerocost dev` (internal/devrun), with the local stand-in model unless
// o.APIKey is set. Empty options default to the repository's demo stack
// (ProjectDir and ToolsDir the repository, Stack "demo"); o.DataDir should be
// a temporary directory. The caller stops the runtime.
func StartWorkers(ctx context.Context, o devrun.Options) (*devrun.Runtime, error) {
	if o.ProjectDir == "" {
		o.ProjectDir = plantest.ProjectDir()
	}
	if o.ToolsDir == "" {
		o.ToolsDir = plantest.ProjectDir()
	}
	if o.Stack == "" {
		o.Stack = "demo"
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 90 * time.Second
	}
	return devrun.Start(ctx, o)
}

// Workers starts the real Workers for one test (see StartWorkers; DataDir
// defaults to a temporary directory) and stops them when it ends, showing the
// runtime's log if it failed. The test fails when Node or the npm packages
// are missing (`make deps`), as the other tests that run Workers do.
func Workers(t testing.TB, o devrun.Options) *devrun.Runtime {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	var log *devruntest.Log
	if o.Log == nil {
		log = &devruntest.Log{}
		o.Log = log
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rt, err := StartWorkers(ctx, o)
	if err != nil {
		t.Fatalf("starting the Workers (zerocost dev on workerd): %v%s", err, tail(log))
	}
	t.Cleanup(func() {
		if err := rt.Stop(); err != nil {
			t.Errorf("stopping the Workers: %v", err)
		}
		if t.Failed() {
			t.Logf("runtime log:%s", tail(log))
		}
	})
	return rt
}

// Shared holds runtimes that outlive a test, for the tests of one package:
// Get starts one on first use and hands it to every later test that asks for
// the same name; TestMain calls Stop once the tests have run. The zero value
// is ready to use.
type Shared struct {
	mu  sync.Mutex
	rts map[string]*sharedRuntime
}

type sharedRuntime struct {
	rt  *devrun.Runtime
	dir string
	log *devruntest.Log
}

// Get returns the runtime called name, starting it with o (see StartWorkers;
// DataDir defaults to a new temporary directory, which Stop removes) when no
// test has asked for it yet; later calls ignore o. When the test fails, its
// log shows the end of the runtime's log (unless o.Log took it).
func (s *Shared) Get(t testing.TB, name string, o devrun.Options) *devrun.Runtime {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.rts[name]
	if w == nil {
		w = &sharedRuntime{}
		if o.DataDir == "" {
			dir, err := os.MkdirTemp("", "verifytest-workers-")
			if err != nil {
				t.Fatal(err)
			}
			w.dir, o.DataDir = dir, dir
		}
		if o.Log == nil {
			w.log = &devruntest.Log{}
			o.Log = w.log
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		rt, err := StartWorkers(ctx, o)
		if err != nil {
			os.RemoveAll(w.dir)
			t.Fatalf("starting the %s Workers (zerocost dev on workerd): %v%s", name, err, tail(w.log))
		}
		w.rt = rt
		if s.rts == nil {
			s.rts = map[string]*sharedRuntime{}
		}
		s.rts[name] = w
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the %s Workers' log:%s", name, tail(w.log))
		}
	})
	return w.rt
}

// Stop stops every runtime Get started and removes their data.
func (s *Shared) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for name, w := range s.rts {
		if err := w.rt.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping the %s Workers: %w", name, err))
		}
		if w.dir != "" {
			os.RemoveAll(w.dir)
		}
	}
	s.rts = nil
	return errors.Join(errs...)
}

// Main is a package's TestMain: it runs the tests, then stops every runtime
// they started, and exits with the tests' code (1 when a runtime does not stop).
func (s *Shared) Main(m *testing.M) {
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// URLs are a runtime's product URLs, by product.
func URLs(rt *devrun.Runtime) map[string]string {
	out := map[string]string{}
	for _, p := range rt.Products() {
		out[p.Name] = p.URL
	}
	return out
}

// Keys are the customer keys dev created, by product (products with keys).
func Keys(rt *devrun.Runtime) map[string]string {
	out := map[string]string{}
	for _, p := range rt.Products() {
		if p.Key != "" {
			out[p.Name] = p.Key
		}
	}
	return out
}

// tail is the end of a runtime's log, for a failing test.
func tail(l *devruntest.Log) string {
	if l == nil {
		return ""
	}
	s := l.String()
	if len(s) > 15000 {
		s = "…" + s[len(s)-15000:]
	}
	return "\n" + s
}

// Breakage breaks a real Worker's answers on purpose, in a proxy in front of
// it (Break). Each field is a fault verify must report and the real Workers
// cannot be made to show — a Worker with a bug, or another Worker deployed
// under the product's URL — so the tests of verify's failure paths keep this
// much of a stand-in; everything else is the real Worker's answer. The zero
// value passes every request and answer through.
type Breakage struct {
	HealthStatus  int    // answer GET /health with this status
	HealthProduct string // /health names this product instead
	Stuck         bool   // jobs stay queued
	EmptyResult   bool   // done jobs have an empty result
	// CacheNeverHits turns x-cache HIT into MISS.
	CacheNeverHits bool
	// SameQuestion, when set, replaces the input of every POST /ask: a cache
	// key that ignores the question.
	SameQuestion string
	// No405 answers 404 where the Worker answers 405.
	No405 bool
	// AddToken sends this bearer token with every request that has none: a
	// Worker that ignores AUTH_TOKEN.
	AddToken string
	// RateLimitAt > 0 answers 429 (Retry-After 42) from that POST on and
	// hides the Worker's own 429s before; < 0 hides every 429 (no limiter).
	RateLimitAt int

	mu       sync.Mutex
	jobPolls int
	posts    int
}

// JobPolls is how many GET /jobs/<id> the proxy answered 200.
func (b *Breakage) JobPolls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.jobPolls
}

var jobIDPath = regexp.MustCompile(`^/jobs/[^/]+$`)

// Break starts a proxy to the Worker at target that breaks it as b says, for
// the test's duration, and returns the proxy's URL.
func Break(t testing.TB, target string, b *Breakage) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = b.modify
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.AddToken != "" && r.Header.Get("Authorization") == "" {
			r.Header.Set("Authorization", "Bearer "+b.AddToken)
		}
		if r.Method == http.MethodPost {
			b.mu.Lock()
			b.posts++
			n := b.posts
			b.mu.Unlock()
			if b.RateLimitAt > 0 && n >= b.RateLimitAt {
				writeJSON(w, http.StatusTooManyRequests, errorBody(string(contract.ErrRateLimited), "rate limit reached"), "Retry-After", "42")
				return
			}
			if b.SameQuestion != "" && r.URL.Path == "/ask" {
				body, _ := json.Marshal(map[string]any{"input": b.SameQuestion})
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
				r.Header.Set("Content-Length", strconv.Itoa(len(body)))
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// modify breaks one answer of the Worker.
func (b *Breakage) modify(res *http.Response) error {
	r := res.Request
	replace := func(status int, v any, headers ...string) error {
		body, err := json.Marshal(v)
		if err != nil {
			return err
		}
		res.Body.Close()
		res.StatusCode, res.Status = status, fmt.Sprintf("%d %s", status, http.StatusText(status))
		res.Body, res.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		res.Header.Set("Content-Length", strconv.Itoa(len(body)))
		res.Header.Set("Content-Type", "application/json; charset=utf-8")
		for i := 0; i+1 < len(headers); i += 2 {
			res.Header.Set(headers[i], headers[i+1])
		}
		return nil
	}
	object := func() (map[string]any, error) {
		data, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s %s answered %d with a body that is not a JSON object: %s", r.Method, r.URL.Path, res.StatusCode, data)
		}
		return m, nil
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/health" && b.HealthStatus != 0:
		return replace(b.HealthStatus, errorBody("internal", "internal error"))
	case r.Method == http.MethodGet && r.URL.Path == "/health" && b.HealthProduct != "" && res.StatusCode == http.StatusOK:
		m, err := object()
		if err != nil {
			return err
		}
		m["product"] = b.HealthProduct
		return replace(res.StatusCode, m)
	case res.StatusCode == http.StatusMethodNotAllowed && b.No405:
		return replace(http.StatusNotFound, errorBody(string(contract.ErrNotFound), "no route for "+r.URL.Path))
	case res.StatusCode == http.StatusTooManyRequests && b.RateLimitAt != 0:
		// The Worker's limiter refused: answer as one without a limiter would.
		if r.URL.Path == "/ask" {
			return replace(http.StatusOK, map[string]any{"answer": "an answer"}, "X-Cache", "MISS")
		}
		return replace(http.StatusAccepted, map[string]any{"job_id": "00000000-0000-4000-8000-000000000000", "status": string(contract.JobQueued)})
	case r.Method == http.MethodGet && jobIDPath.MatchString(r.URL.Path) && res.StatusCode == http.StatusOK:
		b.mu.Lock()
		b.jobPolls++
		b.mu.Unlock()
		if !b.Stuck && !b.EmptyResult {
			return nil
		}
		m, err := object()
		if err != nil {
			return err
		}
		switch {
		case b.Stuck:
			m["status"] = string(contract.JobQueued)
			delete(m, "result")
			delete(m, "error")
		case b.EmptyResult && m["status"] == string(contract.JobDone):
			m["result"] = ""
		}
		return replace(res.StatusCode, m)
	case r.URL.Path == "/ask" && b.CacheNeverHits && strings.EqualFold(res.Header.Get("X-Cache"), "HIT"):
		res.Header.Set("X-Cache", "MISS")
	}
	return nil
}

// writeJSON answers with v as JSON, after the given header pairs.
func writeJSON(w http.ResponseWriter, status int, v any, headers ...string) {
	for i := 0; i+1 < len(headers); i += 2 {
		w.Header().Set(headers[i], headers[i+1])
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is the Workers' JSON error.
func errorBody(code, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": msg}}
}
