// Package devrun is the local runtime behind `zerocost dev`: it runs every
// product of a stack on workerd, through Miniflare driven from Node
// (workers-src/dev/run.mjs), with exactly the bindings, queues, consumers and
// vars of the stack's plan, and points the Workers at Anthropic's API or at
// the stand-in of package devmodel.
//
// Start returns once every product answers; Stop stops the runner's whole
// process group, so no workerd is left holding a port. Tests (zerocost's and
// verify's) start the runtime in-process with Start.
package devrun

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/nodetool"
	"github.com/zerocost/zerocost/internal/plan"
)

// Host is the only address the runtime listens on.
const Host = "127.0.0.1"

// RunnerScript is the runner, relative to workers-src.
const RunnerScript = "dev/run.mjs"

// standInKey is ANTHROPIC_API_KEY's value when the Workers call the stand-in
// (the stand-in wants the header present; any value will do).
const standInKey = "zerocost-dev-stand-in"

// Options configure a runtime.
type Options struct {
	// ProjectDir holds Pulumi.yaml and Pulumi.<stack>.yaml; hooks and prompt
	// files resolve against it.
	ProjectDir string
	// Stack names the stack.
	Stack string
	// Plan, when set, is used as the stack's plan instead of loading it.
	Plan *plan.Plan
	// ToolsDir holds workers-src (its node_modules and dev/run.mjs) and
	// .tools/node22; it defaults to ProjectDir.
	ToolsDir string
	// DataDir receives dev/<stack>.json (the state file), dev/<stack>/ (bundles,
	// the runner config) and state/<stack>/ (persisted R2, queues and the
	// Cache API); it defaults to <ProjectDir>/.zerocost.
	DataDir string

	// APIKey, when set, makes the Workers call the real API (the plan's
	// ANTHROPIC_BASE_URL) with it. Otherwise they call the stand-in.
	APIKey string
	// StandIn shapes the stand-in model (unused with APIKey).
	StandIn devmodel.Options
	// AuthToken, when set, is the Workers' AUTH_TOKEN secret.
	AuthToken string
	// BudgetAlertWebhook, when set, is the Workers' BUDGET_ALERT_WEBHOOK
	// secret (a product's own token-free settings.budgetAlertWebhook wins).
	BudgetAlertWebhook string

	// Reset deletes the persisted state before starting.
	Reset bool
	// PortBase, when > 0, gives product i port PortBase+i (in plan order) and
	// the stand-in PortBase+len(products); 0 picks free ports.
	PortBase int
	// ReadyTimeout bounds the start (default 60 s).
	ReadyTimeout time.Duration
	// Log receives the runtime's logs: Miniflare's, the Workers' and the
	// stand-in's. Nil discards them.
	Log io.Writer

	// FireCrons fires every product's cron triggers on their schedules (in
	// UTC, by Clock) while the runtime runs, as Cloudflare would: `zerocost
	// dev` sets it. Without it crons fire only on demand (TriggerCron).
	FireCrons bool
	// Clock, when set, is the time FireCrons follows (tests); default the
	// wall clock.
	Clock Clock
	// OnCron, when set, sees every scheduled run FireCrons makes (tests).
	OnCron func(CronResult, error)

	// ExtraWorkers run next to the products, in the same workerd (tests and
	// benchmarks only: `zerocost dev` adds none). Rt.ExtraURL gives their URLs.
	ExtraWorkers []ExtraWorker
}

// ExtraWorker is a Worker outside the plan: an inspector of the products'
// storage for reliability tests, or a bare baseline for benchmarks. It gets the
// bindings it names and nothing else. Binding a bucket or queue name of the
// plan shares the product's data, as in the cloud.
type ExtraWorker struct {
	// Name is its script name; it must differ from the products' scripts.
	Name string
	// Script is the path of one ES module.
	Script string
	// Vars are plain-text bindings.
	Vars map[string]string
	// R2Buckets and QueueProducers map a binding to a bucket name or a
	// queue name.
	R2Buckets      map[string]string
	QueueProducers map[string]string
	// D1Databases maps a binding to a D1 database name (the plan's), bound
	// to the same local database as the products'.
	D1Databases map[string]string
}

// UsageError marks errors of configuration or setup: a bad stack, missing
// Node or node_modules, bad options. `zerocost dev` exits 2 on them.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// IsUsage reports whether err is a UsageError.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}

func usage(err error) error { return &UsageError{Err: err} }

// Runtime is a running stack.
type Runtime struct {
	stack     string
	products  []Product
	model     ModelInfo
	standIn   *devmodel.Server
	statePath string
	readyIn   time.Duration
	started   time.Time
	log       io.Writer

	cmd   *exec.Cmd
	stdin io.WriteCloser
	pid   int
	done  chan struct{}
	err   error // why the runner exited; read after done

	stopOnce sync.Once
	stopErr  error

	extras map[string]string // extra Worker name -> URL

	// entryURL is Miniflare's entry socket, which runs scheduled handlers.
	entryURL string
	// kvAPIURL is the runner's KV API (products with keys); account the
	// account id its paths take.
	kvAPIURL, account string
	cronStop          func()                  // stops FireCrons' schedule; nil when off
	onCron            func(CronResult, error) // Options.OnCron
}

// Products returns the running products in plan order.
func (rt *Runtime) Products() []Product { return append([]Product(nil), rt.products...) }

// Product returns the named product, or nil.
func (rt *Runtime) Product(name string) *Product {
	for i := range rt.products {
		if rt.products[i].Name == name {
			p := rt.products[i]
			return &p
		}
	}
	return nil
}

// ExtraURL is the URL of one of Options.ExtraWorkers (no trailing slash), or "".
func (rt *Runtime) ExtraURL(name string) string { return rt.extras[name] }

// Model returns the stand-in model (for its Stats), or nil with the real API.
func (rt *Runtime) Model() *devmodel.Server { return rt.standIn }

// ModelInfo says which model API the Workers call.
func (rt *Runtime) ModelInfo() ModelInfo { return rt.model }

// ReadyIn is the time Start took.
func (rt *Runtime) ReadyIn() time.Duration { return rt.readyIn }

// PID is the runner's process id; it also names the process group holding workerd.
func (rt *Runtime) PID() int { return rt.pid }

// StatePath is the state file this runtime wrote.
func (rt *Runtime) StatePath() string { return rt.statePath }

// State is what the state file holds.
func (rt *Runtime) State() State {
	st := State{Stack: rt.stack, PID: os.Getpid(), StartedAt: rt.started, Model: rt.model, EntryURL: rt.entryURL, Products: rt.Products()}
	if rt.kvAPIURL != "" {
		st.KVAPIURL, st.KVAccountID = rt.kvAPIURL, rt.account
	}
	return st
}

// Done is closed when the runner exits (after Stop, or on its own).
func (rt *Runtime) Done() <-chan struct{} { return rt.done }

// Err is why the runner exited; valid once Done is closed.
func (rt *Runtime) Err() error {
	select {
	case <-rt.done:
		return rt.err
	default:
		return nil
	}
}

// Start runs the stack and returns once every product is ready. It takes four
// steps, each tested on its own:
//
//   - prepare checks the options, the stack's plan, Node and the runner, that
//     the stack does not run already and that the ports are free; then it
//     readies the data folder (--reset);
//   - startModel starts the stand-in model (unless the Workers call the real
//     API), whose URL the Workers' config needs;
//   - build writes every product's bundle and the runner's config, from the
//     plan and nothing else;
//   - launch starts the runner in its own process group, waits until it says
//     every Worker is ready, and writes the state file;
//   - with FireCrons, startCrons then fires the products' crons on their
//     schedules until Stop.
//
// When a step fails, what the earlier ones started is stopped.
func Start(ctx context.Context, o Options) (_ *Runtime, err error) {
	began := time.Now()
	p, err := prepare(o, nodetool.Find)
	if err != nil {
		return nil, err
	}
	rt := &Runtime{stack: p.stack, statePath: p.statePath, started: began, log: p.log, done: make(chan struct{})}
	defer func() {
		if err != nil {
			rt.Stop()
		}
	}()
	model, err := rt.startModel(p)
	if err != nil {
		return nil, err
	}
	b, err := build(p, model)
	if err != nil {
		return nil, err
	}
	if err := rt.launch(ctx, p, b); err != nil {
		return nil, err
	}
	if o.FireCrons {
		clock := o.Clock
		if clock == nil {
			clock = wallClock{}
		}
		rt.onCron = o.OnCron
		if err := rt.startCrons(p, clock); err != nil {
			return nil, err
		}
	}
	return rt, nil
}

// runnerEvent is one protocol line of run.mjs.
type runnerEvent struct {
	Event     string            `json:"event"`
	Message   string            `json:"message"`
	Workers   map[string]string `json:"workers"`
	ReadyMs   int               `json:"ready_ms"`
	Entry     string            `json:"entry"`
	Miniflare string            `json:"miniflare"`
	// KVAPI is the base URL of the KV API the runner serves, when asked.
	KVAPI string `json:"kv_api"`
}

// Stop stops the runner and workerd, then the stand-in, and removes the state
// file. It waits until no process of the runner's group is left, and may be
// called more than once.
func (rt *Runtime) Stop() error {
	rt.stopOnce.Do(func() { rt.stopErr = rt.stop() })
	return rt.stopErr
}

func (rt *Runtime) stop() error {
	var errs []error
	began := time.Now()
	if rt.cronStop != nil {
		rt.cronStop() // no scheduled run starts or stays in flight past here
	}
	if rt.cmd != nil {
		// The runner disposes Miniflare (stopping workerd) on SIGTERM.
		_ = terminate(rt.pid)
		select {
		case <-rt.done:
		case <-time.After(8 * time.Second):
			errs = append(errs, fmt.Errorf("the dev runner did not stop within 8 s: killed"))
		}
		// Whatever is left of the group (workerd if the runner could not
		// dispose it) is killed, and waited for.
		_ = killGroup(rt.pid)
		<-rt.done
		_ = rt.stdin.Close()
		deadline := time.Now().Add(5 * time.Second)
		for groupAlive(rt.pid) && time.Now().Before(deadline) {
			_ = killGroup(rt.pid)
			time.Sleep(20 * time.Millisecond)
		}
		// A zombie (never reaped by its new parent) can stay in the group;
		// the ports are what matter.
		for _, p := range rt.products {
			if err := waitPortFree(p.URL, time.Until(deadline)+time.Second); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
			}
		}
	}
	if rt.cmd != nil {
		fmt.Fprintf(rt.log, "zerocost dev: stopped in %s\n", time.Since(began).Round(time.Millisecond))
	}
	if rt.standIn != nil {
		if err := rt.standIn.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if rt.statePath != "" && len(rt.products) > 0 {
		if err := os.Remove(rt.statePath); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func portFree(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return ln.Close()
}

// waitPortFree waits until nothing accepts connections at the URL's port.
func waitPortFree(rawURL string, within time.Duration) error {
	hostport := strings.TrimPrefix(strings.TrimPrefix(rawURL, "http://"), "https://")
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", hostport, 200*time.Millisecond)
		if err != nil {
			return nil
		}
		c.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still accepts connections after the runtime stopped", hostport)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lineWriter calls fn with each complete line written to it.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func([]byte)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := bytes.TrimRight(w.buf[:i], "\r")
		w.fn(append([]byte(nil), line...))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

func tailNote(t *tailBuffer) string {
	s := strings.TrimSpace(t.String())
	if s == "" {
		return ""
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "\nrunner output:\n  " + strings.Join(lines, "\n  ")
}

// syncWriter serialises writes from the runner's streams and the stand-in.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
