//go:build unix

package reliability

import (
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/devrun"
)

// TestWorkflowJobSurvivesDevRestart: issue 19's durability. An event-agent
// job on the workflow runner is under way (the stand-in has its model call)
// when `zerocost dev` ends, stopped as Ctrl-C stops it or killed (SIGKILL to
// the runner's process group: Node and workerd, no clean shutdown); dev
// starts again on the same state (the same data directory, as `zerocost
// dev` keeps .zerocost/state/<stack>/), and the job still ends done, paid
// once: the stand-in's only 200 for it is the call after the restart (the
// first was cut off).
func TestWorkflowJobSurvivesDevRestart(t *testing.T) {
	for _, how := range []string{"stopped", "killed"} {
		t.Run(how, func(t *testing.T) { restartMidJob(t, how == "killed") })
	}
}

func restartMidJob(t *testing.T, kill bool) {
	cl := newCalls()
	arrived := make(chan int64, 16)
	standIn := devmodel.Options{Latency: 8 * time.Second, Observe: cl.observe, Arrived: func(seq int64) { arrived <- seq }}
	dir := project(t, "wf", workflowStack, nil)
	data := filepath.Join(t.TempDir(), "data")
	sameState := func(o *devrun.Options) { o.DataDir = data }

	env, logs := startStoppable(t, dir, "wf", standIn, sameState)
	base := env.URL("agent")
	input := fmt.Sprintf("a job across a restart %x", time.Now().UnixNano())
	r, err := env.Do(http.MethodPost, base+"/jobs", jsonBody(t, map[string]string{"input": input}), "Content-Type", "application/json")
	if err != nil || r.Status != http.StatusAccepted {
		t.Fatalf("POST /jobs: %v %+v", err, r)
	}
	id, _ := r.JSON()["job_id"].(string)
	select {
	case <-arrived:
	case <-deadline(t, time.Minute).Done():
		t.Fatal("the stand-in saw no model call within a minute")
	}
	if kill {
		if err := syscall.Kill(-env.RT.PID(), syscall.SIGKILL); err != nil {
			t.Fatalf("killing dev's runner group: %v", err)
		}
		select {
		case <-env.RT.Done():
		case <-deadline(t, 30*time.Second).Done():
			t.Fatal("dev's runner did not end within 30 s of SIGKILL")
		}
		_ = env.Stop() // the stand-in and the Go side; the runner is gone
	} else if err := env.Stop(); err != nil {
		t.Fatalf("stopping dev mid-call: %v", err)
	}
	t.Logf("dev %s with job %s's model call under way", map[bool]string{false: "stopped", true: "killed"}[kill], id)

	env2, logs2 := startStoppable(t, dir, "wf", standIn, sameState)
	t.Cleanup(func() { _ = env2.Stop() })
	view := waitJob(t, env2, env2.URL("agent"), id, 3*time.Minute)
	seq, _ := cl.outcomes(input)
	t.Logf("after the restart: status %v; the stand-in's answers for it: %v", view["status"], seq)
	if view["status"] != "done" {
		logLines(t, "job", logs, logs2)
		t.Fatalf("job %s: %v, want done", id, view)
	}
	if paid := count200(seq); paid != 1 {
		t.Errorf("job %s paid %d times (answers %v), want once", id, paid, seq)
	}
}

// waitJob polls GET /jobs/:id until the job is done or failed, for at most limit.
func waitJob(t *testing.T, env *Env, base, id string, limit time.Duration) map[string]any {
	t.Helper()
	ctx := deadline(t, limit)
	for {
		r, err := env.Do(http.MethodGet, base+"/jobs/"+id, nil)
		if err != nil {
			t.Fatal(err)
		}
		v := r.JSON()
		if v["status"] == "done" || v["status"] == "failed" {
			return v
		}
		select {
		case <-ctx.Done():
			return v
		case <-time.After(time.Second):
		}
	}
}
