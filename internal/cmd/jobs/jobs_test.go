package jobs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/zerocost/zerocost/internal/cmd/jobs/shared"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/contract"
)

// statusParked is the status of a job the spend guard parked.
const statusParked = string(contract.JobBudgetExhausted)

const stackYAML = `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:workersDevSubdomain: zc
  zerocost:anthropicApiKey:
    secure: AAABAKxyz
  zerocost:authToken:
    secure: AAABAKxyz
  zerocost:products:
    - name: mail
      pattern: async-pipeline
      systemPrompt: Summarise.
    - name: relay
      pattern: edge-cache
      systemPrompt: Answer briefly.
`

// admin is a Worker's admin routes as workers-src/README.md ("Spend guard")
// documents them, over a list of parked jobs: GET /admin/jobs pages through
// them, POST /admin/jobs/resume takes them off (or answers budget_exhausted).
type admin struct {
	mu       sync.Mutex
	parked   []shared.Job
	spent    bool
	pageSize int
	calls    []string
}

func (a *admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, r.Method+" "+r.URL.RequestURI())
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer let-me-in" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"code":"unauthorized","message":"missing or invalid bearer token"}}`)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == contract.AdminJobsPath:
		if r.URL.Query().Get("status") != statusParked {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"code":"invalid_input","message":"status must be budget_exhausted"}}`)
			return
		}
		from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		n := a.pageSize
		if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l < n {
			n = l
		}
		to := min(from+n, len(a.parked))
		page := map[string]any{"jobs": a.parked[from:to], "cursor": nil}
		if to < len(a.parked) {
			page["cursor"] = strconv.Itoa(to)
		}
		_ = json.NewEncoder(w).Encode(page)
	case r.Method == http.MethodPost && r.URL.Path == contract.AdminJobsResumePath:
		if a.spent {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"code":"budget_exhausted","message":"mail's monthly budget of $5.00 is spent","resets_at":"2027-01-01T00:00:00Z","scope":"product"}}`)
			return
		}
		var body struct {
			Limit int `json:"limit"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		n := min(len(a.parked), a.pageSize) // a bounded number per call, as the Worker
		if body.Limit > 0 && body.Limit < n {
			n = body.Limit
		}
		a.parked = a.parked[n:]
		fmt.Fprintf(w, `{"resumed":%d,"remaining":%d}`, n, len(a.parked))
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"code":"not_found","message":"no route"}}`)
	}
}

func parkedJobs(n int) []shared.Job {
	var out []shared.Job
	for i := range n {
		j := shared.Job{JobID: fmt.Sprintf("%060x", i+1), Status: statusParked, ParkedAt: "2026-12-02T04:00:00Z", Error: "monthly budget spent", InputChars: 10 + i}
		if i%2 == 1 {
			j.Customer = fmt.Sprintf("acme-%d", i) // a keyed product's job; the others a public one's
		}
		out = append(out, j)
	}
	return out
}

// project writes a project with the stack and an outputs file whose mail URL
// is the fake admin server's.
func project(t *testing.T, url string) (dir, outputsFile string) {
	t.Helper()
	dir = t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Pulumi.yaml", "name: zerocost\nruntime: go\nmain: infra/\n")
	write("Pulumi.demo.yaml", stackYAML)
	write("outputs.json", fmt.Sprintf(`{"mail": {"pattern": "async-pipeline", "script": "mail-demo", "url": %q, "r2_buckets": {"OUTPUTS": "mail-demo-outputs"}, "queue_ids": {}},
 "relay": {"pattern": "edge-cache", "script": "relay-demo", "url": %q, "r2_buckets": {"OUTPUTS": "relay-demo-outputs"}}}`, url, url))
	return dir, filepath.Join(dir, "outputs.json")
}

func run(t *testing.T, dir string, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	io, out, errOut := cmdutil.Test()
	f := &cmdutil.Factory{IO: io, ProjectDir: dir, Getenv: func(k string) string { return env[k] }, SelectedStack: cmdtest.Selected("demo")}
	cmd := NewCmd(f)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

var token = map[string]string{shared.EnvAuthToken: "let-me-in"}

func TestListPagesThroughTheParkedJobs(t *testing.T) {
	a := &admin{parked: parkedJobs(5), pageSize: 2}
	srv := httptest.NewServer(a)
	defer srv.Close()
	dir, outs := project(t, srv.URL)

	out, errOut, err := run(t, dir, token, "list", "--product", "mail", "--outputs", outs)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range parkedJobs(5) {
		if !strings.Contains(out, j.JobID) {
			t.Errorf("the list lacks %s:\n%s", j.JobID, out)
		}
	}
	if !strings.Contains(out, "CUSTOMER") || !strings.Contains(out, "acme-3") || !strings.Contains(out, "2026-12-02T04:00:00Z  -  ") {
		t.Errorf("the list names each job's customer (- for none):\n%s", out)
	}
	if !strings.Contains(out, "JOB ID") || !strings.Contains(out, "14 chars") || !strings.Contains(errOut, "zerocost jobs resume --stack demo --product mail") {
		t.Errorf("out:\n%s\nerr:\n%s", out, errOut)
	}
	if got := strings.Join(a.calls, "; "); got != "GET /admin/jobs?status=budget_exhausted; GET /admin/jobs?cursor=2&status=budget_exhausted; GET /admin/jobs?cursor=4&status=budget_exhausted" {
		t.Errorf("calls: %s", got)
	}

	a.calls = nil
	out, _, err = run(t, dir, token, "list", "--product", "mail", "--outputs", outs, "--json", "--limit", "3")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Product string       `json:"product"`
		Jobs    []shared.Job `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if got.Product != "mail" || len(got.Jobs) != 3 || got.Jobs[2].JobID != parkedJobs(3)[2].JobID || got.Jobs[1].Customer != "acme-1" || got.Jobs[0].Customer != "" {
		t.Errorf("JSON: %+v", got)
	}
	if !strings.Contains(a.calls[0], "limit=3") {
		t.Errorf("--limit not sent: %v", a.calls)
	}
}

func TestListWithNothingParked(t *testing.T) {
	srv := httptest.NewServer(&admin{pageSize: 10})
	defer srv.Close()
	dir, outs := project(t, srv.URL)
	out, _, err := run(t, dir, token, "list", "--product", "mail", "--outputs", outs)
	if err != nil || !strings.Contains(out, "mail has no jobs with status budget_exhausted") {
		t.Errorf("%v: %s", err, out)
	}
	out, _, err = run(t, dir, token, "list", "--product", "mail", "--outputs", outs, "--json")
	if err != nil || !strings.Contains(out, `"jobs": []`) {
		t.Errorf("%v: %s", err, out)
	}
}

func TestResume(t *testing.T) {
	a := &admin{parked: parkedJobs(5), pageSize: 2, spent: true}
	srv := httptest.NewServer(a)
	defer srv.Close()
	dir, outs := project(t, srv.URL)

	// While the budget is spent the Worker refuses, and nothing moves.
	_, _, err := run(t, dir, token, "resume", "--product", "mail", "--outputs", outs)
	if err == nil || cmdutil.ExitCode(err) != cmdutil.ExitFailed || !strings.Contains(err.Error(), "the budget is still spent (it resets at 2027-01-01T00:00:00Z)") {
		t.Fatalf("resume on a spent budget: %v (exit %d)", err, cmdutil.ExitCode(err))
	}
	if len(a.parked) != 5 {
		t.Errorf("%d parked after a refused resume", len(a.parked))
	}

	a.spent = false
	out, _, err := run(t, dir, token, "resume", "--product", "mail", "--outputs", outs, "--limit", "2")
	if err != nil || !strings.Contains(out, "Resumed 2 jobs of mail; 3 still parked.") {
		t.Fatalf("%v: %s", err, out)
	}
	// The rest, over two calls of at most two.
	a.calls = nil
	out, _, err = run(t, dir, token, "resume", "--product", "mail", "--outputs", outs)
	if err != nil || !strings.Contains(out, "Resumed 3 jobs of mail; 0 still parked.") || len(a.calls) != 2 {
		t.Fatalf("%v: %s (calls %v)", err, out, a.calls)
	}
}

func TestErrorsNameTheFix(t *testing.T) {
	srv := httptest.NewServer(&admin{pageSize: 10})
	defer srv.Close()
	dir, outs := project(t, srv.URL)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"no token", nil, []string{"list", "--product", "mail", "--outputs", outs}, cmdutil.ExitUsage, "ZEROCOST_AUTH_TOKEN is not set"},
		{"wrong token", map[string]string{shared.EnvAuthToken: "nope"}, []string{"list", "--product", "mail", "--outputs", outs}, cmdutil.ExitUsage, "refused the token (401)"},
		{"not a pipeline", token, []string{"list", "--product", "relay", "--outputs", outs}, cmdutil.ExitUsage, "--product relay is an edge-cache product: only async-pipeline products park jobs"},
		{"unknown product", token, []string{"resume", "--product", "nope", "--outputs", outs}, cmdutil.ExitUsage, "--product nope: stack demo has no such product (it has mail, relay)"},
		{"no dev running", token, []string{"list", "--product", "mail", "--local"}, cmdutil.ExitUsage, "no zerocost dev running for stack demo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, dir, tc.env, tc.args...)
			if err == nil || cmdutil.ExitCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v (exit %d), want exit %d saying %q", err, cmdutil.ExitCode(err), tc.code, tc.want)
			}
		})
	}
}
