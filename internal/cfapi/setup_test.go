package cfapi

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestNormalizeBaseURL(t *testing.T) {
	for raw, want := range map[string]string{
		"":                           DefaultBaseURL,
		"http://127.0.0.1:8080":      "http://127.0.0.1:8080/client/v4/",
		"http://127.0.0.1:8080/":     "http://127.0.0.1:8080/client/v4/",
		"https://api.example/v4":     "https://api.example/v4/",
		"https://api.example/base/":  "https://api.example/base/",
		"http://127.0.0.1/client/v4": "http://127.0.0.1/client/v4/",
	} {
		if got, err := NormalizeBaseURL(raw); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", raw, got, err, want)
		}
	}
	for _, bad := range []string{"not a url", "ftp://x", "http://", "127.0.0.1:8080", "://x"} {
		if got, err := NormalizeBaseURL(bad); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}

func TestResolveBaseURL(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvBaseURL {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		flag, env, want string
	}{
		{"", "", DefaultBaseURL},
		{"", "http://127.0.0.1:1", "http://127.0.0.1:1/client/v4/"},
		{"http://127.0.0.1:2/x", "http://127.0.0.1:1", "http://127.0.0.1:2/x/"}, // the flag wins
	} {
		if got, err := ResolveBaseURL(c.flag, "--api-url", env(c.env)); err != nil || got != c.want {
			t.Errorf("flag %q, env %q: %q %v, want %q", c.flag, c.env, got, err, c.want)
		}
	}
	if got, err := ResolveBaseURL("", "--api-url", nil); err != nil || got != DefaultBaseURL {
		t.Errorf("no environment: %q %v", got, err)
	}
	// The error names where the URL came from.
	if _, err := ResolveBaseURL("ftp://x", "--api-url", env("")); err == nil || err.Error() != `--api-url "ftp://x" is not an http(s) URL` {
		t.Errorf("bad flag: %v", err)
	}
	if _, err := ResolveBaseURL("", "--api-url", env("ftp://y")); err == nil || err.Error() != EnvBaseURL+` "ftp://y" is not an http(s) URL` {
		t.Errorf("bad environment: %v", err)
	}
}

// recorder answers from a list of (status, header, body) and records what it was sent.
type recorder struct {
	mu      sync.Mutex
	answers []answer
	got     []*http.Request
	bodies  []string
}

type answer struct {
	status int
	header map[string]string
	body   string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.got = append(r.got, req)
	r.bodies = append(r.bodies, string(b))
	a := answer{status: 200, body: `{"success":true,"errors":[],"result":[]}`}
	if len(r.answers) > 0 {
		a, r.answers = r.answers[0], r.answers[1:]
	}
	r.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	fmt.Fprint(w, a.body)
}

func serve(t *testing.T, answers ...answer) (*recorder, string) {
	r := &recorder{answers: answers}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL
}

// Both kinds of client, cloudflare-go's services and Post, send the same
// token and user agent to the same normalised base.
func TestOneSetupForBothKindsOfClient(t *testing.T) {
	rec, origin := serve(t)
	cfg := Config{Token: "tok", BaseURL: origin} // a bare origin
	if _, err := New(cfg).Queues(ctx(t), acct); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Post(ctx(t), "query", "graphql", "application/json", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 2 {
		t.Fatalf("%d requests", len(rec.got))
	}
	for i, want := range []string{"/client/v4/accounts/" + acct + "/queues", "/client/v4/graphql"} {
		r := rec.got[i]
		if r.URL.Path != want || r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("User-Agent") != UserAgent {
			t.Errorf("request %d: %s %s, Authorization %q, User-Agent %q", i, r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("User-Agent"))
		}
	}
	if rec.got[1].Header.Get("Content-Type") != "application/json" || rec.bodies[1] != `{}` {
		t.Errorf("post: %q %q", rec.got[1].Header.Get("Content-Type"), rec.bodies[1])
	}
}

// Post retries as cloudflare-go does: 408, 409, 429 and 5xx (after
// retry-after when given), not other 4xx, not past MaxRetries, and not when
// the answer says x-should-retry: false.
func TestPostRetries(t *testing.T) {
	now := map[string]string{"Retry-After": "0"}
	busy := answer{503, now, `{"success":false,"errors":[{"code":1000,"message":"busy"}]}`}
	ok := answer{200, nil, `{"data":1}`}
	for _, c := range []struct {
		name     string
		retries  int
		answers  []answer
		requests int
		want     string // "" for success
	}{
		{"503 then 200", 2, []answer{busy, ok}, 2, ""},
		{"429 then 200", 2, []answer{{429, map[string]string{"Retry-After-Ms": "1"}, `{}`}, ok}, 2, ""},
		{"409, 408, then 200", 2, []answer{{409, now, ``}, {408, now, ``}, ok}, 3, ""},
		{"always 503", 2, []answer{busy, busy, busy, ok}, 3, "q: Cloudflare answered HTTP 503: busy (code 1000)"},
		{"no retries", 0, []answer{busy, ok}, 1, "q: Cloudflare answered HTTP 503: busy (code 1000)"},
		{"400 is not retried", 2, []answer{{400, now, `{"errors":[{"code":7003,"message":"Could not route"}]}`}, ok}, 1, "q: Cloudflare answered HTTP 400: Could not route (code 7003)"},
		{"x-should-retry: false", 2, []answer{{500, map[string]string{"x-should-retry": "false"}, ``}, ok}, 1, "q: Cloudflare answered HTTP 500: Internal Server Error"},
		{"x-should-retry: true", 2, []answer{{400, map[string]string{"x-should-retry": "true", "Retry-After": "0"}, ``}, ok}, 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec, origin := serve(t, c.answers...)
			data, err := Config{Token: "tok", BaseURL: origin, MaxRetries: c.retries}.Post(ctx(t), "q", "/graphql", "application/json", []byte(`{"query":"x"}`))
			if len(rec.got) != c.requests {
				t.Errorf("%d requests, want %d", len(rec.got), c.requests)
			}
			for i, b := range rec.bodies {
				if b != `{"query":"x"}` {
					t.Errorf("request %d sent %q", i, b)
				}
			}
			switch {
			case c.want == "" && (err != nil || string(data) != `{"data":1}`):
				t.Errorf("%q %v", data, err)
			case c.want != "" && (err == nil || err.Error() != c.want):
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
	// A connection refused is retried, then reported with the operation.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, err := Config{BaseURL: closed.URL, MaxRetries: 1}.Post(ctx(t), "q", "graphql", "application/json", nil)
	var ae *APIError
	if err == nil || errors.As(err, &ae) || !strings.HasPrefix(err.Error(), "q: ") {
		t.Errorf("closed server: %v", err)
	}
	// A canceled context ends the retries at once.
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Config{BaseURL: closed.URL, MaxRetries: 5}).Post(c, "q", "graphql", "application/json", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

// One error type for every client: Cloudflare's codes and messages, the
// operation, and the caller's hint when the token was refused.
func TestAPIError(t *testing.T) {
	_, origin := serve(t,
		answer{403, nil, `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}`},
		answer{400, nil, `{"errors":[{"message":"unknown field"}],"data":null}`}, // GraphQL
		answer{422, nil, `unable to find type of column: double9`},
		answer{404, nil, ``},
	)
	cfg := Config{BaseURL: origin, MaxRetries: 0, AuthHint: "the token needs X"}
	var errs []error
	for range 4 {
		_, err := cfg.Post(ctx(t), "op", "x", "text/plain", nil)
		errs = append(errs, err)
	}
	for i, want := range []string{
		"op: Cloudflare answered HTTP 403: Authentication error (code 10000) (the token needs X)",
		"op: Cloudflare answered HTTP 400: unknown field",
		"op: Cloudflare answered HTTP 422: unable to find type of column: double9",
		"op: Cloudflare answered HTTP 404: Not Found",
	} {
		if errs[i] == nil || errs[i].Error() != want {
			t.Errorf("answer %d: %v, want %q", i, errs[i], want)
		}
	}
	if !IsAuth(errs[0]) || IsAuth(errs[1]) || !IsNotFound(errs[3]) || IsNotFound(errs[0]) {
		t.Error("IsAuth / IsNotFound")
	}
	var ae *APIError
	if !errors.As(errs[0], &ae) || !ae.HasCode(10000) || ae.HasCode(7003) || ae.Status != 403 || ae.Op != "op" {
		t.Errorf("%+v", ae)
	}
	// An authentication code makes the hint apply whatever the status.
	e := &APIError{Op: "op", Status: 400, Errors: []Message{{Code: 9109, Message: "Invalid access token"}}, Hint: "h"}
	if !IsAuth(e) || !strings.HasSuffix(e.Error(), "(code 9109) (h)") {
		t.Errorf("%v", e)
	}
	// cloudflare-go's errors are wrapped into the same type.
	rec, origin := serve(t, answer{403, nil, `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}`})
	_, err := New(Config{BaseURL: origin, MaxRetries: 0, AuthHint: "h"}).Queues(ctx(t), acct)
	if !errors.As(err, &ae) || ae.Hint != "h" || err.Error() != "list queues: Cloudflare answered HTTP 403: Authentication error (code 10000) (h)" || len(rec.got) != 1 {
		t.Errorf("cloudflare-go error: %v", err)
	}
}

// The environment variable names are declared once, here: no other Go file
// of the CLI spells them as a string of its own.
func TestEnvNamesDeclaredOnce(t *testing.T) {
	root := filepath.Join("..", "..")
	names := map[string]bool{strconv.Quote(EnvToken): true, strconv.Quote(EnvBaseURL): true}
	fset := gotoken.NewFileSet()
	var found []string
	for _, dir := range []string{"internal", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f, err := parser.ParseFile(fset, path, src, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == gotoken.STRING && names[lit.Value] {
					found = append(found, fset.Position(lit.Pos()).String())
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(found) != 2 {
		t.Fatalf("declared at %v, want twice in setup.go (one per name)", found)
	}
	for _, f := range found {
		if filepath.Base(strings.Split(f, ":")[0]) != "setup.go" {
			t.Errorf("%s declares an environment variable name of package cfapi", f)
		}
	}
}
