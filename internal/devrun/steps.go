package devrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zerocost/zerocost/internal/bundle"
	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/nodetool"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/render"
	"github.com/zerocost/zerocost/internal/stack"
)

// This file holds the steps of Start: prepare, startModel, build, launch.

// prepared is what prepare checked and resolved: everything the later steps
// need to know, and nothing they start.
type prepared struct {
	o          Options // with the defaults applied
	stack      string
	projectDir string // absolute
	plan       *plan.Plan
	tools      *nodetool.Tools
	runner     string // workers-src/dev/run.mjs
	statePath  string // dev/<stack>.json
	persist    string // state/<stack>/: R2, queue and cache data
	buildDir   string // dev/<stack>/: bundles and runner.json
	// ports are the products' (plan order), then the stand-in's; 0 picks a
	// free one.
	ports []int
	log   io.Writer
}

func (p *prepared) logf(format string, args ...any) {
	fmt.Fprintf(p.log, "zerocost dev: "+format+"\n", args...)
}

// findTools locates Node and workers-src (nodetool.Find; tests stub it).
type findTools func(toolsDir string) (*nodetool.Tools, error)

// prepare checks everything Start can check before it starts anything: the
// options, the stack's plan, the stand-in's options, the port range, Node
// and the runner script, that the stack does not run already and that fixed
// ports are free. Its errors are UsageErrors, but for a stack that runs
// already. Only then does it touch the disk: --reset removes the persisted
// data, and the data folders are made.
func prepare(o Options, find findTools) (*prepared, error) {
	o, projectDir, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	dataDir := o.DataDir
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	p := &prepared{
		o: o, stack: o.Stack, projectDir: projectDir, log: &syncWriter{w: logw},
		statePath: stateFile(dataDir, o.Stack),
		persist:   filepath.Join(dataDir, "state", o.Stack),
		buildDir:  filepath.Join(dataDir, "dev", o.Stack),
	}

	if err := p.checkPlan(); err != nil {
		return nil, err
	}
	n := len(p.plan.Products)

	if p.tools, err = find(o.ToolsDir); err != nil {
		return nil, usage(err)
	}
	p.runner = filepath.Join(p.tools.WorkersDir, filepath.FromSlash(RunnerScript))
	if _, err := os.Stat(p.runner); err != nil {
		return nil, usage(fmt.Errorf("the dev runner is missing: %w", err))
	}

	if s, err := ReadStateFile(p.statePath); err == nil {
		return nil, fmt.Errorf("zerocost dev already runs stack %s (process %d, %s): stop it first", o.Stack, s.PID, p.statePath)
	}
	p.ports = make([]int, n+1) // products, then the stand-in
	if o.PortBase > 0 {
		for i := range p.ports {
			p.ports[i] = o.PortBase + i
			if err := portFree(p.ports[i]); err != nil {
				return nil, usage(fmt.Errorf("--port-base %d: port %d is taken: %w", o.PortBase, p.ports[i], err))
			}
		}
	}

	if o.Reset {
		if err := os.RemoveAll(p.persist); err != nil {
			return nil, fmt.Errorf("--reset: %w", err)
		}
		p.logf("reset: removed %s", p.persist)
	}
	for _, dir := range []string{p.buildDir, p.persist} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// withDefaults checks the options' stack and folders, makes the folders
// absolute and fills in the defaults; it returns the project folder.
func (o Options) withDefaults() (Options, string, error) {
	if o.Stack == "" {
		return o, "", usage(errors.New("no stack given"))
	}
	if o.ProjectDir == "" {
		return o, "", usage(errors.New("no project folder given"))
	}
	projectDir, err := filepath.Abs(o.ProjectDir)
	if err != nil {
		return o, "", usage(err)
	}
	if o.ToolsDir == "" {
		o.ToolsDir = projectDir
	}
	if o.DataDir == "" {
		o.DataDir = filepath.Join(projectDir, DataDirName)
	}
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return o, "", usage(err)
	}
	o.DataDir = dataDir
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	return o, projectDir, nil
}

// checkPlan builds the stack's plan (unless the options give one) and checks
// what the run needs of it: products, crons that parse, the stand-in's
// options and a port range that fits.
func (p *prepared) checkPlan() error {
	o := p.o
	p.plan = o.Plan
	if p.plan == nil {
		cfg, err := stack.LoadFile(p.projectDir, o.Stack)
		if err != nil {
			return usage(err)
		}
		if p.plan, err = plan.Build(cfg, p.projectDir); err != nil {
			return usage(fmt.Errorf("stack %s: %w", o.Stack, err))
		}
	}
	n := len(p.plan.Products)
	if n == 0 {
		return usage(fmt.Errorf("stack %s has no products", o.Stack))
	}
	if o.FireCrons {
		var ps []Product
		for _, pr := range p.plan.Products {
			ps = append(ps, Product{Name: pr.Name, Crons: pr.Crons})
		}
		if _, err := cronJobs(ps); err != nil {
			return usage(err)
		}
	}
	if o.APIKey == "" {
		if err := o.StandIn.Check(); err != nil {
			return usage(err)
		}
	}
	if o.PortBase < 0 || o.PortBase+n > 65535 {
		return usage(fmt.Errorf("port base %d: need %d ports between 1 and 65535", o.PortBase, n+1))
	}
	return nil
}

// modelTarget is the model API the Workers call.
type modelTarget struct {
	info ModelInfo
	// baseURL replaces the plan's ANTHROPIC_BASE_URL ("" keeps it).
	baseURL string
	sec     devSecrets
}

// startModel starts the stand-in model on its port, unless an API key makes
// the Workers call the plan's ANTHROPIC_BASE_URL.
func (rt *Runtime) startModel(p *prepared) (modelTarget, error) {
	m := modelTarget{sec: devSecrets{APIKey: p.o.APIKey, AuthToken: p.o.AuthToken, BudgetAlertWebhook: p.o.BudgetAlertWebhook}}
	if p.o.APIKey != "" {
		m.info = ModelInfo{URL: baseURLOf(p.plan)}
		rt.model = m.info
		p.logf("the Workers call Anthropic's API at %s", m.info.URL)
		return m, nil
	}
	so := p.o.StandIn
	if so.Log == nil {
		so.Log = p.log
	}
	s, err := devmodel.Start(so, p.ports[len(p.ports)-1])
	if err != nil {
		return m, err
	}
	rt.standIn = s
	m.baseURL, m.sec.APIKey = s.URL, standInKey
	m.info = ModelInfo{URL: s.URL, StandIn: true}
	rt.model = m.info
	p.logf("no ANTHROPIC_API_KEY: the Workers call the stand-in model at %s", s.URL)
	return m, nil
}

// built is what build wrote: the runner's config and its path.
type built struct {
	cfg  runnerConfig
	path string
	// sec are the secrets' values, given to the runner in its environment.
	sec devSecrets
	// keys are the keys dev created, by product (never written to cfg).
	keys map[string]string
}

// build bundles every product of the plan into <buildDir>/<product>/, turns
// each into the runner's worker config (buildWorker: the plan's bindings,
// pointed at the model), adds the extra Workers, and writes runner.json. No
// Node is needed.
func build(p *prepared, m modelTarget) (*built, error) {
	cfg := runnerConfig{Host: Host, Persist: p.persist, LogLevel: "INFO"}
	began := time.Now()
	for i := range p.plan.Products {
		pr := &p.plan.Products[i]
		b, err := bundle.Product(pr, p.projectDir, bundle.Options{})
		if err != nil {
			return nil, usage(err)
		}
		dir := filepath.Join(p.buildDir, pr.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		script := filepath.Join(dir, render.MainModule)
		if err := os.WriteFile(script, b.Code, 0o644); err != nil {
			return nil, err
		}
		w, notes, err := buildWorker(pr, script, p.ports[i], m.baseURL, m.sec)
		if err != nil {
			return nil, usage(err)
		}
		for _, n := range notes {
			p.logf("%s", n)
		}
		cfg.Workers = append(cfg.Workers, w)
	}
	p.logf("bundled %d Workers into %s in %s", len(cfg.Workers), p.buildDir, time.Since(began).Round(time.Millisecond))
	extras, err := extraWorkers(p.o.ExtraWorkers, cfg.Workers)
	if err != nil {
		return nil, usage(err)
	}
	cfg.Workers = append(cfg.Workers, extras...)
	recs, keys, err := devKeys(p.plan, time.Now())
	if err != nil {
		return nil, err
	}
	// The local API serves the KEYS namespaces (`zerocost keys --local`)
	// and the spend store (`zerocost cost report --by customer --local`).
	cfg.Keys, cfg.KVAPI = recs, len(keys) > 0 || p.plan.SpendDatabase != nil
	b := &built{cfg: cfg, path: filepath.Join(p.buildDir, "runner.json"), sec: m.sec, keys: keys}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(b.path, data, 0o644); err != nil {
		return nil, err
	}
	return b, nil
}

// launch starts the runner (Node, Miniflare, workerd) in its own process
// group with the secrets in its environment, waits for its ready line (or
// its exit, the timeout, or ctx), takes every Worker's URL from it, and
// writes the state file.
func (rt *Runtime) launch(ctx context.Context, p *prepared, b *built) error {
	cmd := p.tools.Script(context.Background(), p.runner, b.path)
	cmd.Dir = p.projectDir
	cmd.Env = append(cmd.Env, secretValues(b.cfg.Workers, b.sec)...)
	tail := &tailBuffer{max: 8 << 10}
	cmd.Stderr = io.MultiWriter(p.log, tail)
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
		p.log.Write(append(line, '\n'))
	}}
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.tools.Node, err)
	}
	rt.cmd, rt.stdin, rt.pid = cmd, stdin, cmd.Process.Pid
	go func() {
		err := cmd.Wait()
		rt.err = err
		close(rt.done)
	}()
	p.logf("runner started (pid %d, Node %s): %s %s", rt.pid, p.tools.NodeVersion, p.runner, b.path)

	timer := time.NewTimer(p.o.ReadyTimeout)
	defer timer.Stop()
	var ready runnerEvent
	select {
	case ev := <-events:
		if ev.Event != "ready" {
			return fmt.Errorf("the dev runner failed: %s%s", ev.Message, tailNote(tail))
		}
		ready = ev
	case <-rt.done:
		return fmt.Errorf("the dev runner exited before it was ready (%v)%s", rt.err, tailNote(tail))
	case <-timer.C:
		return fmt.Errorf("the dev runner was not ready after %s%s", p.o.ReadyTimeout, tailNote(tail))
	case <-ctx.Done():
		return ctx.Err()
	}

	if err := rt.takeURLs(p.plan, b.cfg.Workers, ready.Workers); err != nil {
		return err
	}
	rt.entryURL = strings.TrimRight(ready.Entry, "/")
	rt.kvAPIURL, rt.account = ready.KVAPI, p.plan.AccountID
	for i := range rt.products {
		rt.products[i].Key = b.keys[rt.products[i].Name]
		if pr := p.plan.Product(rt.products[i].Name); pr != nil {
			rt.products[i].KeysNamespaceID = keysNamespaceID(pr)
		}
	}
	rt.readyIn = time.Since(rt.started)
	st := rt.State()
	if err := writeState(p.statePath, &st); err != nil {
		return fmt.Errorf("writing the state file: %w", err)
	}
	p.logf("ready in %s (Miniflare %s ready %d ms after the runner started)", rt.readyIn.Round(time.Millisecond), ready.Miniflare, ready.ReadyMs)
	return nil
}

// takeURLs reads every Worker's URL from the runner's ready line: the
// products' (in plan order, the first workers of the config) and the extra
// Workers'.
func (rt *Runtime) takeURLs(p *plan.Plan, workers []runnerWorker, urls map[string]string) error {
	for i, w := range workers {
		u, ok := urls[w.Name]
		if !ok {
			return fmt.Errorf("the dev runner gave no URL for %s", w.Name)
		}
		if i >= len(p.Products) {
			if rt.extras == nil {
				rt.extras = map[string]string{}
			}
			rt.extras[w.Name] = strings.TrimRight(u, "/")
			continue
		}
		rt.products = append(rt.products, Product{Name: w.Product, Pattern: p.Products[i].Pattern, URL: strings.TrimRight(u, "/"),
			Script: w.Name, Crons: p.Products[i].Crons})
	}
	return nil
}
