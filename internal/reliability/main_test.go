package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/devrun/devruntest"
	"github.com/zerocost/zerocost/internal/nodetool"
	"github.com/zerocost/zerocost/internal/stack/stacktest"
)

func TestMain(m *testing.M) {
	if Full() {
		fmt.Fprintf(os.Stderr, "reliability: full sizes (%s=full)\n", EnvSize)
	}
	os.Exit(m.Run())
}

func newLog(t *testing.T) *devruntest.Log { return devruntest.NewLog(t, 30000) }

// repoRoot is the repository (tools: Node, workers-src/node_modules).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// needNode fails (never skips): CI installs Node 22 and node_modules with `make deps`.
func needNode(t *testing.T) {
	t.Helper()
	if _, err := nodetool.Find(repoRoot(t)); err != nil {
		t.Fatalf("the reliability suites need Node >= 22.12 and workers-src/node_modules (make deps): %v", err)
	}
}

// project writes a temporary project with one stack and returns its folder.
func project(t *testing.T, stackName, config string, files map[string]string) string {
	t.Helper()
	return stacktest.Project(t, stackName, config, files)
}

// start runs a stack with the inspector; it stops with the test.
func start(t *testing.T, dir, stackName string, standIn devmodel.Options, mod ...func(*devrun.Options)) (*Env, *devruntest.Log) {
	t.Helper()
	env, logs := startStoppable(t, dir, stackName, standIn, mod...)
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the runtime: %v", err)
		}
	})
	return env, logs
}

// startStoppable runs a stack with the inspector and leaves stopping it to
// the test (one that stops it mid-job).
func startStoppable(t *testing.T, dir, stackName string, standIn devmodel.Options, mod ...func(*devrun.Options)) (*Env, *devruntest.Log) {
	t.Helper()
	needNode(t)
	logs := newLog(t)
	o := devrun.Options{ProjectDir: dir, Stack: stackName, ToolsDir: repoRoot(t), DataDir: t.TempDir(), StandIn: standIn, Log: logs}
	for _, m := range mod {
		m(&o)
	}
	env, err := Start(t.Context(), o)
	if err != nil {
		t.Fatalf("starting %s: %v", stackName, err)
	}
	t.Logf("%s ready in %s", stackName, env.RT.ReadyIn().Round(time.Millisecond))
	return env, logs
}

// deadline bounds a phase of a test: the context ends at the sooner of the
// limit and the test's own deadline (minus a margin to report).
func deadline(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	if d, ok := t.Deadline(); ok {
		c2, cancel2 := context.WithDeadline(ctx, d.Add(-20*time.Second))
		t.Cleanup(cancel2)
		ctx = c2
	}
	t.Cleanup(cancel)
	return ctx
}

// calls records the stand-in's calls per input (devmodel.Options.Observe).
type calls struct {
	mu      sync.Mutex
	byInput map[string][]int // input -> statuses, in order
	retries map[string][]int // input -> the calls' X-Stainless-Retry-Count, in order
	total   int
}

func newCalls() *calls { return &calls{byInput: map[string][]int{}, retries: map[string][]int{}} }

func (c *calls) observe(ci devmodel.CallInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	c.byInput[ci.Input] = append(c.byInput[ci.Input], ci.Status)
	c.retries[ci.Input] = append(c.retries[ci.Input], ci.Retry)
}

// abandoned200 stands, in an outcomes sequence, for a 200 the stand-in wrote
// after the Worker had given up on the attempt: the next call is the Worker's
// retry of it (X-Stainless-Retry-Count > 0), so that attempt timed out before
// the answer arrived and failed as far as the Worker knew.
const abandoned200 = -200

// outcomes is the input's call statuses as the Worker saw them: each 200 it
// retried after is abandoned200. abandoned counts those.
func (c *calls) outcomes(input string) (seq []int, abandoned int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq = append([]int(nil), c.byInput[input]...)
	rs := c.retries[input]
	for i, st := range seq {
		if st == http.StatusOK && i+1 < len(seq) && rs[i+1] > 0 {
			seq[i] = abandoned200
			abandoned++
		}
	}
	return seq, abandoned
}

// paid counts the input's calls that the Worker was answered 200 for (the
// 200s of outcomes), and the abandoned ones left out.
func (c *calls) paid(input string) (paid, abandoned int) {
	seq, abandoned := c.outcomes(input)
	return count200(seq), abandoned
}

// count200 counts the paid 200s of an outcomes sequence.
func count200(seq []int) int {
	n := 0
	for _, s := range seq {
		if s == http.StatusOK {
			n++
		}
	}
	return n
}

func (c *calls) of(input string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.byInput[input]...)
}

func (c *calls) retriesOf(input string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.retries[input]...)
}

// logLines prints the lines of the runtime's logs that name word (a job id).
func logLines(t *testing.T, word string, logs ...*devruntest.Log) {
	t.Helper()
	for i, l := range logs {
		for line := range strings.Lines(l.String()) {
			if strings.Contains(line, word) {
				t.Logf("runtime %d: %s", i+1, strings.TrimRight(line, "\n"))
			}
		}
	}
}

func (c *calls) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// jsonBody marshals v.
func jsonBody(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// errorShape checks a JSON error body {"error":{"code","message"}}; it returns the code.
func errorShape(body []byte) (string, error) {
	var v struct {
		Error *struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("not JSON: %q", clip(body))
	}
	if v.Error == nil || v.Error.Code == nil || v.Error.Message == nil || *v.Error.Code == "" || *v.Error.Message == "" {
		return "", fmt.Errorf("not {\"error\":{\"code\",\"message\"}}: %q", clip(body))
	}
	return *v.Error.Code, nil
}

func clip(b []byte) string {
	s := string(b)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
