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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zerocost/zerocost/internal/bundle"
	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/nodetool"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/render"
	"github.com/zerocost/zerocost/internal/stack"
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
	// the runner config) and state/<stack>/ (persisted KV, R2 and queues); it
	// defaults to <ProjectDir>/.zerocost.
	DataDir string

	// APIKey, when set, makes the Workers call the real API (the plan's
	// ANTHROPIC_BASE_URL) with it. Otherwise they call the stand-in.
	APIKey string
	// StandIn shapes the stand-in model (unused with APIKey).
	StandIn devmodel.Options
	// AuthToken, when set, is the Workers' AUTH_TOKEN secret.
	AuthToken string

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

	// ExtraWorkers run next to the products, in the same workerd (tests and
	// benchmarks only: `zerocost dev` adds none). Rt.ExtraURL gives their URLs.
	ExtraWorkers []ExtraWorker
}

// ExtraWorker is a Worker outside the plan: an inspector of the products'
// storage for reliability tests, or a bare baseline for benchmarks. It gets the
// bindings it names and nothing else. Binding a namespace id, bucket or queue
// name of the plan shares the product's data, as in the cloud.
type ExtraWorker struct {
	// Name is its script name; it must differ from the products' scripts.
	Name string
	// Script is the path of one ES module.
	Script string
	// Vars are plain-text bindings.
	Vars map[string]string
	// KVNamespaces, R2Buckets and QueueProducers map a binding to a KV
	// namespace id (a plan's KV title), a bucket name or a queue name.
	KVNamespaces   map[string]string
	R2Buckets      map[string]string
	QueueProducers map[string]string
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
	return State{Stack: rt.stack, PID: os.Getpid(), StartedAt: rt.started, Model: rt.model, Products: rt.Products()}
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

// Start runs the stack and returns once every product is ready.
func Start(ctx context.Context, o Options) (_ *Runtime, err error) {
	began := time.Now()
	if o.Stack == "" {
		return nil, usage(errors.New("no stack given"))
	}
	if o.ProjectDir == "" {
		return nil, usage(errors.New("no project folder given"))
	}
	projectDir, err := filepath.Abs(o.ProjectDir)
	if err != nil {
		return nil, usage(err)
	}
	if o.ToolsDir == "" {
		o.ToolsDir = projectDir
	}
	if o.DataDir == "" {
		o.DataDir = filepath.Join(projectDir, DataDirName)
	}
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, usage(err)
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	logw = &syncWriter{w: logw}
	logf := func(format string, args ...any) { fmt.Fprintf(logw, "zerocost dev: "+format+"\n", args...) }

	p := o.Plan
	if p == nil {
		cfg, err := stack.LoadFile(projectDir, o.Stack)
		if err != nil {
			return nil, usage(err)
		}
		if p, err = plan.Build(cfg, projectDir); err != nil {
			return nil, usage(fmt.Errorf("stack %s: %w", o.Stack, err))
		}
	}
	if len(p.Products) == 0 {
		return nil, usage(fmt.Errorf("stack %s has no products", o.Stack))
	}
	if o.APIKey == "" {
		if err := o.StandIn.Check(); err != nil {
			return nil, usage(err)
		}
	}
	if o.PortBase < 0 || o.PortBase+len(p.Products) > 65535 {
		return nil, usage(fmt.Errorf("port base %d: need %d ports between 1 and 65535", o.PortBase, len(p.Products)+1))
	}

	tools, err := nodetool.Find(o.ToolsDir)
	if err != nil {
		return nil, usage(err)
	}
	runner := filepath.Join(tools.WorkersDir, filepath.FromSlash(RunnerScript))
	if _, err := os.Stat(runner); err != nil {
		return nil, usage(fmt.Errorf("the dev runner is missing: %w", err))
	}

	statePath := stateFile(dataDir, o.Stack)
	if s, err := ReadStateFile(statePath); err == nil {
		return nil, fmt.Errorf("zerocost dev already runs stack %s (process %d, %s): stop it first", o.Stack, s.PID, statePath)
	}
	persist := filepath.Join(dataDir, "state", o.Stack)
	if o.Reset {
		if err := os.RemoveAll(persist); err != nil {
			return nil, fmt.Errorf("--reset: %w", err)
		}
		logf("reset: removed %s", persist)
	}
	buildDir := filepath.Join(dataDir, "dev", o.Stack)
	if err := os.MkdirAll(buildDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(persist, 0o755); err != nil {
		return nil, err
	}

	ports := make([]int, len(p.Products)+1) // products, then the stand-in
	if o.PortBase > 0 {
		for i := range ports {
			ports[i] = o.PortBase + i
			if err := portFree(ports[i]); err != nil {
				return nil, usage(fmt.Errorf("--port-base %d: port %d is taken: %w", o.PortBase, ports[i], err))
			}
		}
	}

	rt := &Runtime{stack: o.Stack, statePath: statePath, started: began, log: logw, done: make(chan struct{})}
	defer func() {
		if err != nil {
			rt.Stop()
		}
	}()

	// The model.
	sec := devSecrets{APIKey: o.APIKey, AuthToken: o.AuthToken}
	baseURL := ""
	if o.APIKey == "" {
		so := o.StandIn
		if so.Log == nil {
			so.Log = logw
		}
		s, err := devmodel.Start(so, ports[len(ports)-1])
		if err != nil {
			return nil, err
		}
		rt.standIn = s
		baseURL = s.URL
		sec.APIKey = standInKey
		rt.model = ModelInfo{URL: s.URL, StandIn: true}
		logf("no ANTHROPIC_API_KEY: the Workers call the stand-in model at %s", s.URL)
	} else {
		rt.model = ModelInfo{URL: baseURLOf(p)}
		logf("the Workers call Anthropic's API at %s", rt.model.URL)
	}

	// Bundles and the runner config, from the plan.
	cfg := runnerConfig{Host: Host, Persist: persist, LogLevel: "INFO"}
	bundled := time.Now()
	for i := range p.Products {
		pr := &p.Products[i]
		b, err := bundle.Product(pr, projectDir, bundle.Options{})
		if err != nil {
			return nil, usage(err)
		}
		dir := filepath.Join(buildDir, pr.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		script := filepath.Join(dir, render.MainModule)
		if err := os.WriteFile(script, b.Code, 0o644); err != nil {
			return nil, err
		}
		w, notes, err := buildWorker(pr, script, ports[i], baseURL, sec)
		if err != nil {
			return nil, usage(err)
		}
		for _, n := range notes {
			logf("%s", n)
		}
		cfg.Workers = append(cfg.Workers, w)
	}
	logf("bundled %d Workers into %s in %s", len(cfg.Workers), buildDir, time.Since(bundled).Round(time.Millisecond))
	extras, err := extraWorkers(o.ExtraWorkers, cfg.Workers)
	if err != nil {
		return nil, usage(err)
	}
	cfg.Workers = append(cfg.Workers, extras...)
	cfgPath := filepath.Join(buildDir, "runner.json")
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		return nil, err
	}

	// The runner, in its own process group.
	cmd := tools.Script(context.Background(), runner, cfgPath)
	cmd.Dir = projectDir
	cmd.Env = append(cmd.Env, secretValues(cfg.Workers, sec)...)
	tail := &tailBuffer{max: 8 << 10}
	cmd.Stderr = io.MultiWriter(logw, tail)
	events := make(chan runnerEvent, 4)
	cmd.Stdout = &lineWriter{fn: func(line []byte) {
		var ev runnerEvent
		if json.Unmarshal(line, &ev) == nil && ev.Event != "" {
			select {
			case events <- ev:
			default:
			}
			return
		}
		logw.Write(append(line, '\n'))
	}}
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", tools.Node, err)
	}
	rt.cmd, rt.stdin, rt.pid = cmd, stdin, cmd.Process.Pid
	go func() {
		err := cmd.Wait()
		rt.err = err
		close(rt.done)
	}()
	logf("runner started (pid %d, Node %s): %s %s", rt.pid, tools.NodeVersion, runner, cfgPath)

	timer := time.NewTimer(o.ReadyTimeout)
	defer timer.Stop()
	var ready runnerEvent
	select {
	case ev := <-events:
		if ev.Event != "ready" {
			return nil, fmt.Errorf("the dev runner failed: %s%s", ev.Message, tailNote(tail))
		}
		ready = ev
	case <-rt.done:
		return nil, fmt.Errorf("the dev runner exited before it was ready (%v)%s", rt.err, tailNote(tail))
	case <-timer.C:
		return nil, fmt.Errorf("the dev runner was not ready after %s%s", o.ReadyTimeout, tailNote(tail))
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	for i, w := range cfg.Workers {
		u, ok := ready.Workers[w.Name]
		if !ok {
			return nil, fmt.Errorf("the dev runner gave no URL for %s", w.Name)
		}
		if i >= len(p.Products) {
			if rt.extras == nil {
				rt.extras = map[string]string{}
			}
			rt.extras[w.Name] = strings.TrimRight(u, "/")
			continue
		}
		rt.products = append(rt.products, Product{Name: w.Product, Pattern: p.Products[i].Pattern, URL: strings.TrimRight(u, "/")})
	}
	rt.readyIn = time.Since(began)
	st := rt.State()
	if err := writeState(statePath, &st); err != nil {
		return nil, fmt.Errorf("writing the state file: %w", err)
	}
	logf("ready in %s (Miniflare %s ready %d ms after the runner started)", rt.readyIn.Round(time.Millisecond), ready.Miniflare, ready.ReadyMs)
	return rt, nil
}

// runnerEvent is one protocol line of run.mjs.
type runnerEvent struct {
	Event     string            `json:"event"`
	Message   string            `json:"message"`
	Workers   map[string]string `json:"workers"`
	ReadyMs   int               `json:"ready_ms"`
	Miniflare string            `json:"miniflare"`
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
