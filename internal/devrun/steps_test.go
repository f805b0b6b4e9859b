package devrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/nodetool"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/stack"
)

// The tests of prepare, startModel and build need no Node: the tools are
// stubbed. launch is tested with Node: with scripted runners here, and with
// the real one by every test that calls Start.

// repoDir is the repository, whose Pulumi.demo.yaml has four products.
const repoDir = "../.."

// fakeTools is a findTools that finds a workers-src holding dev/run.mjs
// (empty) and a Node that is never run.
func fakeTools(t *testing.T) findTools {
	t.Helper()
	workers := t.TempDir()
	runner := filepath.Join(workers, filepath.FromSlash(RunnerScript))
	if err := os.MkdirAll(filepath.Dir(runner), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(runner, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return func(string) (*nodetool.Tools, error) {
		return &nodetool.Tools{Node: "/no/node", NodeVersion: "v0", WorkersDir: workers}, nil
	}
}

// demoOptions runs the demo stack with its data in a temporary folder.
func demoOptions(t *testing.T) Options {
	return Options{ProjectDir: repoDir, Stack: "demo", DataDir: t.TempDir()}
}

func TestPrepareResolvesTheRun(t *testing.T) {
	var log bytes.Buffer
	o := demoOptions(t)
	o.Log = &log
	p, err := prepare(o, fakeTools(t))
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(repoDir)
	data := o.DataDir
	if p.projectDir != abs || p.o.ToolsDir != abs || p.o.DataDir != data || p.o.ReadyTimeout != 60*time.Second {
		t.Errorf("defaults: project %s, tools %s, data %s, timeout %s", p.projectDir, p.o.ToolsDir, p.o.DataDir, p.o.ReadyTimeout)
	}
	if p.statePath != filepath.Join(data, "dev", "demo.json") || p.persist != filepath.Join(data, "state", "demo") || p.buildDir != filepath.Join(data, "dev", "demo") {
		t.Errorf("paths: %s %s %s", p.statePath, p.persist, p.buildDir)
	}
	if len(p.plan.Products) != 4 || len(p.ports) != 5 || p.ports[0] != 0 || p.ports[4] != 0 {
		t.Errorf("plan of %d products, ports %v (want 5 zeros: free ports)", len(p.plan.Products), p.ports)
	}
	if !strings.HasSuffix(p.runner, filepath.FromSlash("/dev/run.mjs")) {
		t.Errorf("runner %s", p.runner)
	}
	for _, dir := range []string{p.buildDir, p.persist} {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			t.Errorf("%s not made: %v", dir, err)
		}
	}
	if log.Len() != 0 {
		t.Errorf("logged %q", log.String())
	}
	// The defaults of a project without a data folder.
	proj := t.TempDir()
	if err := os.WriteFile(stack.FilePath(proj, "demo"), mustRead(t, stack.FilePath(repoDir, "demo")), 0o644); err != nil {
		t.Fatal(err)
	}
	// The demo's hooks and prompt files are the repository's: give the plan.
	p2, err := prepare(Options{ProjectDir: proj, Stack: "demo", Plan: p.plan}, fakeTools(t))
	if err != nil {
		t.Fatal(err)
	}
	if p2.o.DataDir != filepath.Join(proj, DataDirName) || p2.o.ToolsDir != proj || p2.plan != p.plan {
		t.Errorf("data %s, tools %s", p2.o.DataDir, p2.o.ToolsDir)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// freePorts returns the first of n consecutive free ports, below Linux's
// ephemeral range (32768 and up), where no client connection takes one.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for base := 20000 + os.Getpid()%10000; base+n < 32768; base += n {
		ok := true
		for i := range n {
			if portFree(base+i) != nil {
				ok = false
				break
			}
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}

func TestPrepareFixedPortsAndReset(t *testing.T) {
	var log bytes.Buffer
	o := demoOptions(t)
	o.Log, o.Reset, o.PortBase = &log, true, freePorts(t, 5)
	old := filepath.Join(o.DataDir, "state", "demo", "r2", "old")
	if err := os.MkdirAll(filepath.Dir(old), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := prepare(o, fakeTools(t))
	if err != nil {
		t.Fatal(err)
	}
	for i, port := range p.ports {
		if port != o.PortBase+i {
			t.Errorf("ports %v, want %d..%d", p.ports, o.PortBase, o.PortBase+4)
			break
		}
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("--reset left %s: %v", old, err)
	}
	if st, err := os.Stat(p.persist); err != nil || !st.IsDir() {
		t.Errorf("persist folder after --reset: %v", err)
	}
	if want := "zerocost dev: reset: removed " + p.persist + "\n"; log.String() != want {
		t.Errorf("log %q, want %q", log.String(), want)
	}
}

// Every check fails before anything is written, with a usage error (exit 2
// in `zerocost dev`) but for a stack that runs already.
func TestPrepareRefuses(t *testing.T) {
	taken, err := net.Listen("tcp", net.JoinHostPort(Host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	running := t.TempDir()
	if err := writeState(stateFile(running, "demo"), &State{Stack: "demo", PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	noRunner := func(string) (*nodetool.Tools, error) { return &nodetool.Tools{WorkersDir: t.TempDir()}, nil }
	noNode := func(string) (*nodetool.Tools, error) { return nil, errors.New("no Node >= 22.12") }

	for name, c := range map[string]struct {
		mod   func(*Options)
		find  findTools
		want  string
		usage bool
	}{
		"no stack":         {func(o *Options) { o.Stack = "" }, nil, "no stack given", true},
		"no project":       {func(o *Options) { o.ProjectDir = "" }, nil, "no project folder given", true},
		"unknown stack":    {func(o *Options) { o.Stack = "nope" }, nil, "Pulumi.nope.yaml does not exist", true},
		"no products":      {func(o *Options) { o.Plan = &plan.Plan{Stack: "demo"} }, nil, "stack demo has no products", true},
		"bad stand-in":     {func(o *Options) { o.StandIn = devmodel.Options{ErrorRate: 2} }, nil, "model error rate 2 is outside 0..1", true},
		"port base":        {func(o *Options) { o.PortBase = 65533 }, nil, "port base 65533: need 5 ports", true},
		"no Node":          {nil, noNode, "no Node >= 22.12", true},
		"no runner":        {nil, noRunner, "the dev runner is missing", true},
		"port taken":       {func(o *Options) { o.PortBase = takenPort }, nil, "port " + strconv.Itoa(takenPort) + " is taken", true},
		"runs already":     {func(o *Options) { o.DataDir = running }, nil, "zerocost dev already runs stack demo (process " + strconv.Itoa(os.Getpid()), false},
		"runs, with reset": {func(o *Options) { o.DataDir, o.Reset = running, true }, nil, "already runs", false},
	} {
		t.Run(name, func(t *testing.T) {
			o := demoOptions(t)
			o.Reset = true
			if c.mod != nil {
				c.mod(&o)
			}
			keep := filepath.Join(o.DataDir, "state", "demo", "keep")
			if err := os.MkdirAll(filepath.Dir(keep), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(keep, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			find := c.find
			if find == nil {
				find = fakeTools(t)
			}
			_, err := prepare(o, find)
			if err == nil || !strings.Contains(err.Error(), c.want) || IsUsage(err) != c.usage {
				t.Fatalf("got %v (usage %v), want %q (usage %v)", err, IsUsage(err), c.want, c.usage)
			}
			if _, err := os.Stat(keep); err != nil {
				t.Errorf("a refused start touched the data: %v", err)
			}
			if _, err := os.Stat(filepath.Join(o.DataDir, "dev", "demo")); o.DataDir != "" && !os.IsNotExist(err) {
				t.Errorf("a refused start made the build folder: %v", err)
			}
		})
	}
}

// The model: the stand-in on the prepared port, or the plan's API with a key.
func TestStartModel(t *testing.T) {
	var log bytes.Buffer
	o := demoOptions(t)
	o.Log, o.AuthToken = &log, "tok"
	p, err := prepare(o, fakeTools(t))
	if err != nil {
		t.Fatal(err)
	}
	rt := &Runtime{done: make(chan struct{})}
	m, err := rt.startModel(p)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.standIn.Close()
	if !m.info.StandIn || m.baseURL != rt.standIn.URL || m.info.URL != m.baseURL || rt.ModelInfo() != m.info ||
		m.sec != (devSecrets{APIKey: standInKey, AuthToken: "tok"}) {
		t.Errorf("stand-in target %+v", m)
	}
	if !strings.Contains(log.String(), "no ANTHROPIC_API_KEY: the Workers call the stand-in model at "+m.baseURL) {
		t.Errorf("log %q", log.String())
	}

	o.APIKey = "sk-real"
	p, err = prepare(o, fakeTools(t))
	if err != nil {
		t.Fatal(err)
	}
	rt = &Runtime{done: make(chan struct{})}
	m, err = rt.startModel(p)
	if err != nil || rt.standIn != nil || m.baseURL != "" || m.info != (ModelInfo{URL: stack.DefaultAnthropicBaseURL}) || m.sec.APIKey != "sk-real" {
		t.Errorf("real API: %+v %v", m, err)
	}
}

// build writes a bundle per product and the runner's config, from the plan:
// the products in plan order on their ports, pointed at the model, secrets
// named by environment variable (their values never on disk), then the
// extra Workers.
func TestBuildWritesBundlesAndRunnerConfig(t *testing.T) {
	var log bytes.Buffer
	o := demoOptions(t)
	o.Log, o.PortBase = &log, freePorts(t, 5)
	extra := filepath.Join(t.TempDir(), "x.js")
	if err := os.WriteFile(extra, []byte("export default {}"), 0o644); err != nil {
		t.Fatal(err)
	}
	o.ExtraWorkers = []ExtraWorker{{Name: "inspector", Script: extra}}
	p, err := prepare(o, fakeTools(t))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "sk-never-on-disk"
	m := modelTarget{baseURL: "http://127.0.0.1:9", sec: devSecrets{APIKey: secret, AuthToken: "auth-never-on-disk"}}
	b, err := build(p, m)
	if err != nil {
		t.Fatal(err)
	}
	if b.path != filepath.Join(p.buildDir, "runner.json") || b.sec != m.sec {
		t.Errorf("built %s, secrets %+v", b.path, b.sec)
	}
	data := mustRead(t, b.path)
	var onDisk runnerConfig
	if err := json.Unmarshal(data, &onDisk); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(b.cfg)
	got, _ := json.Marshal(onDisk)
	if !bytes.Equal(got, want) {
		t.Errorf("runner.json differs from the config:\n%s\n%s", got, want)
	}
	if bytes.Contains(data, []byte(secret)) || bytes.Contains(data, []byte("auth-never-on-disk")) {
		t.Error("a secret's value is in runner.json")
	}
	cfg := b.cfg
	if cfg.Host != Host || cfg.Persist != p.persist || len(cfg.Workers) != 5 {
		t.Fatalf("config: host %s, persist %s, %d workers", cfg.Host, cfg.Persist, len(cfg.Workers))
	}
	for i, pr := range p.plan.Products {
		w := cfg.Workers[i]
		if w.Name != pr.Script || w.Product != pr.Name || w.Port != o.PortBase+i || w.Script != filepath.Join(p.buildDir, pr.Name, "worker.js") {
			t.Errorf("worker %d: %s %s port %d %s", i, w.Name, w.Product, w.Port, w.Script)
		}
		if w.Options.Bindings["ANTHROPIC_BASE_URL"] != m.baseURL {
			t.Errorf("%s calls %q, want the stand-in", w.Name, w.Options.Bindings["ANTHROPIC_BASE_URL"])
		}
		if w.Secrets["ANTHROPIC_API_KEY"] != secretEnv("ANTHROPIC_API_KEY") {
			t.Errorf("%s secrets %v", w.Name, w.Secrets)
		}
		if st, err := os.Stat(w.Script); err != nil || st.Size() == 0 {
			t.Errorf("bundle %s: %v", w.Script, err)
		}
	}
	if w := cfg.Workers[4]; w.Name != "inspector" || w.Script != extra {
		t.Errorf("extra worker %+v", w)
	}
	if !strings.Contains(log.String(), "zerocost dev: bundled 4 Workers into "+p.buildDir+" in ") {
		t.Errorf("log %q", log.String())
	}

	// With the real API, the plan's ANTHROPIC_BASE_URL stays.
	b, err = build(p, modelTarget{sec: devSecrets{APIKey: "k"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.cfg.Workers[0].Options.Bindings["ANTHROPIC_BASE_URL"]; got != stack.DefaultAnthropicBaseURL {
		t.Errorf("real API: ANTHROPIC_BASE_URL %q", got)
	}

	// A bad extra Worker is a usage error, and no runner config is written.
	p.o.ExtraWorkers = []ExtraWorker{{Name: p.plan.Products[0].Script, Script: extra}}
	p.buildDir = filepath.Join(t.TempDir(), "other")
	if _, err := build(p, m); !IsUsage(err) || !strings.Contains(err.Error(), "taken") {
		t.Errorf("extra worker named as a product: %v", err)
	}
	if _, err := os.Stat(filepath.Join(p.buildDir, "runner.json")); !os.IsNotExist(err) {
		t.Errorf("runner.json written after an error: %v", err)
	}
}

// The ready line names every Worker: products in plan order, then extras.
func TestTakeURLs(t *testing.T) {
	p := &plan.Plan{Products: []plan.Product{{Name: "a", Pattern: stack.EdgeCache}, {Name: "b", Pattern: stack.EventAgent, Crons: []string{"*/5 * * * *"}}}}
	workers := []runnerWorker{{Name: "a-dev", Product: "a"}, {Name: "b-dev", Product: "b"}, {Name: "x"}}
	rt := &Runtime{}
	err := rt.takeURLs(p, workers, map[string]string{"a-dev": "http://127.0.0.1:1/", "b-dev": "http://127.0.0.1:2", "x": "http://127.0.0.1:3/"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Product{
		{Name: "a", Pattern: stack.EdgeCache, URL: "http://127.0.0.1:1", Script: "a-dev"},
		{Name: "b", Pattern: stack.EventAgent, URL: "http://127.0.0.1:2", Script: "b-dev", Crons: []string{"*/5 * * * *"}},
	}
	if got := rt.Products(); !reflect.DeepEqual(got, want) || rt.ExtraURL("x") != "http://127.0.0.1:3" {
		t.Errorf("products %+v, extras %v", got, rt.extras)
	}
	if err := (&Runtime{}).takeURLs(p, workers, map[string]string{"a-dev": "http://127.0.0.1:1"}); err == nil || !strings.Contains(err.Error(), "no URL for b-dev") {
		t.Errorf("missing URL: %v", err)
	}
}

// launch with scripted runners (Node runs them as it runs dev/run.mjs): the
// ready line's URLs become the products and the state file, the secrets
// reach the runner's environment only, and a runner that fails, exits or
// stays silent is an error that quotes its output; Stop ends its process
// group.
func TestLaunch(t *testing.T) {
	needNode(t)
	const ready = `import { readFileSync } from "node:fs";
const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const workers = {};
cfg.workers.forEach((w, i) => { workers[w.name] = "http://127.0.0.1:" + (1 + i) + "/"; });
console.log("a runner log line");
console.log("key " + process.env.ZEROCOST_DEV_SECRET_ANTHROPIC_API_KEY); // stdout: before the ready line
console.log(JSON.stringify({ event: "ready", workers, entry: "http://127.0.0.1:9/", ready_ms: 7, miniflare: "4.test" }));
setInterval(() => {}, 1000);
`
	for name, c := range map[string]struct {
		script  string
		timeout time.Duration
		want    string // "" for ready; else the error (its runner output: stderr, read by the time the runner has exited)
	}{
		"ready":     {ready, 0, ""},
		"failed":    {`console.log(JSON.stringify({event: "error", message: "boom"})); setInterval(() => {}, 1000);`, 0, "the dev runner failed: boom"},
		"exited":    {`console.error("oops"); process.exit(3);`, 0, "the dev runner exited before it was ready (exit status 3)\nrunner output:\n  oops"},
		"silent":    {`setInterval(() => {}, 1000);`, 500 * time.Millisecond, "the dev runner was not ready after 500ms"},
		"a URL off": {`console.log(JSON.stringify({event: "ready", workers: {}})); setInterval(() => {}, 1000);`, 0, "the dev runner gave no URL for a-dev"},
	} {
		t.Run(name, func(t *testing.T) {
			log := newLog(t)
			dir := t.TempDir()
			script := filepath.Join(dir, "runner.mjs")
			if err := os.WriteFile(script, []byte(c.script), 0o644); err != nil {
				t.Fatal(err)
			}
			find := func(string) (*nodetool.Tools, error) { abs, _ := filepath.Abs(repoDir); return nodetool.Find(abs) }
			pl := &plan.Plan{Stack: "t", Products: []plan.Product{{Name: "a", Pattern: stack.EdgeCache, Script: "a-dev"}}}
			p, err := prepare(Options{ProjectDir: dir, Stack: "t", Plan: pl, DataDir: filepath.Join(dir, "data"), Log: log, ReadyTimeout: c.timeout}, find)
			if err != nil {
				t.Fatal(err)
			}
			p.runner = script
			b := &built{
				cfg:  runnerConfig{Workers: []runnerWorker{{Name: "a-dev", Product: "a", Secrets: map[string]string{"ANTHROPIC_API_KEY": secretEnv("ANTHROPIC_API_KEY")}}, {Name: "x"}}},
				path: filepath.Join(dir, "runner.json"),
				sec:  devSecrets{APIKey: "the-key"},
			}
			data, _ := json.Marshal(b.cfg)
			if err := os.WriteFile(b.path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			rt := &Runtime{stack: p.stack, statePath: p.statePath, started: time.Now(), log: p.log, done: make(chan struct{})}
			err = rt.launch(t.Context(), p, b)
			pid := rt.PID()
			if pid == 0 {
				t.Fatalf("no runner started: %v", err)
			}
			if c.want != "" {
				if err == nil || err.Error() != c.want {
					t.Errorf("got %v, want %q", err, c.want)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if got := rt.Products(); !reflect.DeepEqual(got, []Product{{Name: "a", Pattern: stack.EdgeCache, URL: "http://127.0.0.1:1", Script: "a-dev"}}) || rt.ExtraURL("x") != "http://127.0.0.1:2" {
					t.Errorf("products %+v, extra %q", got, rt.ExtraURL("x"))
				}
				st, err := ReadStateFile(p.statePath)
				if err != nil || st.Stack != "t" || len(st.Products) != 1 || st.PID != os.Getpid() || st.EntryURL != "http://127.0.0.1:9" {
					t.Errorf("state %+v %v", st, err)
				}
				for _, want := range []string{"a runner log line", "key the-key", "zerocost dev: runner started (pid " + strconv.Itoa(pid), "ms after the runner started)", "Miniflare 4.test ready 7 ms"} {
					if !strings.Contains(log.String(), want) {
						t.Errorf("log lacks %q:\n%s", want, log.String())
					}
				}
				if bytes.Contains(mustRead(t, b.path), []byte("the-key")) {
					t.Error("the key is in runner.json")
				}
			}
			if err := rt.Stop(); err != nil {
				t.Errorf("Stop: %v", err)
			}
			select {
			case <-rt.Done():
			default:
				t.Error("the runner still runs after Stop")
			}
			if groupAlive(pid) {
				t.Errorf("process group %d still alive: %v", pid, groupMembers(pid))
			}
			if _, err := os.Stat(p.statePath); !os.IsNotExist(err) {
				t.Errorf("state file after Stop: %v", err)
			}
		})
	}
}
