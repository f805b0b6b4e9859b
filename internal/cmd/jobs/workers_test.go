package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cmd/jobs/shared"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/plan/plantest"
	"github.com/zerocost/zerocost/internal/verify/verifytest"
)

// budgetStack is a pipeline with a budget, its own or (stackWide) the
// stack's zerocost:monthlyBudgetUsd.
func budgetStack(budget string, stackWide bool) string {
	stackCap, own := "", "\n        monthlyBudgetUsd: "+budget
	if stackWide {
		stackCap, own = "\n  zerocost:monthlyBudgetUsd: "+budget, ""
	}
	return `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:workersDevSubdomain: zc
  zerocost:anthropicApiKey:
    secure: AAABAKx
  zerocost:authToken:
    secure: AAABAKx` + stackCap + `
  zerocost:products:
    - name: mail
      pattern: async-pipeline
      access: public # the commands' admin routes are under test, not customer keys
      systemPrompt: Summarise.
      settings:` + own + `
        batchSize: 1
        batchTimeoutSeconds: 1
`
}

// The commands against the real Worker on workerd: jobs parked by a spent
// budget (the product's, or only the stack's cap) are listed, refused while
// it is spent, and resumed to done after a raise; the parked rows outlive a
// restart of the runtime.
func TestJobsAgainstTheWorker(t *testing.T) {
	t.Parallel()
	for _, stackWide := range []bool{false, true} {
		t.Run(fmt.Sprintf("stack-wide=%v", stackWide), func(t *testing.T) {
			t.Parallel()
			jobsAgainstTheWorker(t, stackWide)
		})
	}
}

func jobsAgainstTheWorker(t *testing.T, stackWide bool) {
	dir, data := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: budgety\nruntime: go\n"), 0o644)
	var running *devrun.Runtime
	start := func(budget string) (url string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "Pulumi.budget.yaml"), []byte(budgetStack(budget, stackWide)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, p := plantest.Load(t, dir, "budget")
		if running != nil { // a redeploy: the same data, the new plan
			if err := running.Stop(); err != nil {
				t.Fatal(err)
			}
		}
		rt := verifytest.Workers(t, devrun.Options{ProjectDir: dir, Stack: "budget", Plan: p, AuthToken: "let-me-in", DataDir: data})
		running = rt
		url = verifytest.URLs(rt)["mail"]
		outs := filepath.Join(dir, "outputs.json")
		b, _ := json.Marshal(map[string]any{"mail": map[string]any{"pattern": "async-pipeline", "script": "mail-budget", "url": url}})
		os.WriteFile(outs, b, 0o644)
		return url
	}
	cli := func(args ...string) (string, error) {
		t.Helper()
		io, out, errOut := cmdutil.Test()
		f := &cmdutil.Factory{IO: io, ProjectDir: dir, Getenv: func(k string) string { return token[k] },
			HTTPClient: func() *http.Client { return &http.Client{Timeout: 30 * time.Second} }}
		cmd := NewCmd(f)
		cmd.SetArgs(append(args, "--stack", "budget", "--product", "mail", "--outputs", filepath.Join(dir, "outputs.json")))
		cmd.SetOut(out)
		cmd.SetErr(errOut)
		err := cmd.Execute()
		return out.String(), err
	}

	// $0.000001: the first call spends it.
	url := start("0.000001")
	first := submit(t, url, "the first job")
	waitStatus(t, url, first, "done")
	parked := []string{submit(t, url, "the second job"), submit(t, url, "the third job")}
	for _, id := range parked {
		waitStatus(t, url, id, statusParked)
	}

	out, err := cli("list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var listed struct{ Jobs []shared.Job }
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got := map[string]bool{}
	for _, j := range listed.Jobs {
		got[j.JobID] = j.Status == statusParked && j.InputChars > 0
	}
	if len(got) != 2 || !got[parked[0]] || !got[parked[1]] {
		t.Errorf("listed %+v, want the parked %v", listed.Jobs, parked)
	}
	if _, err := cli("resume"); err == nil || !strings.Contains(err.Error(), "the budget is still spent") {
		t.Errorf("resume on a spent budget: %v", err)
	}

	// The budget raised (a redeploy): the parked jobs are still there and resume to done.
	url = start("1000")
	if out, err := cli("resume"); err != nil || !strings.Contains(out, "Resumed 2 jobs of mail; 0 still parked.") {
		t.Fatalf("resume after the raise: %v: %s", err, out)
	}
	for _, id := range parked {
		waitStatus(t, url, id, "done")
	}
	if out, err := cli("list"); err != nil || !strings.Contains(out, "mail has no jobs with status budget_exhausted") {
		t.Errorf("list after resume: %v: %s", err, out)
	}
}

func submit(t *testing.T, url, input string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"input": input})
	req, _ := http.NewRequest(http.MethodPost, url+"/jobs", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer let-me-in")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r struct {
		JobID string `json:"job_id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || res.StatusCode != http.StatusAccepted || r.JobID == "" {
		t.Fatalf("POST /jobs: %d %v %+v", res.StatusCode, err, r)
	}
	return r.JobID
}

// waitStatus polls GET /jobs/:id until the job has the status, for at most a minute.
func waitStatus(t *testing.T, url, id, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	last := ""
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/jobs/"+id, nil)
		req.Header.Set("Authorization", "Bearer let-me-in")
		if res, err := http.DefaultClient.Do(req); err == nil {
			var r struct {
				Status string `json:"status"`
			}
			_ = json.NewDecoder(res.Body).Decode(&r)
			res.Body.Close()
			last = fmt.Sprintf("%d %s", res.StatusCode, r.Status)
			if r.Status == want {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s: still %q after a minute, want %s", id, last, want)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
