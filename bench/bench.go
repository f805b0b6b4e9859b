// Package bench measures zerocost against the goals of docs/BENCHMARKS.md:
// bundle sizes, CPU time per request in workerd, cache-hit latency against a
// bare Worker on the same runtime, render + plan + bundle against `wrangler
// deploy --dry-run`, pipeline throughput against a model rate limit, and the
// event agent's POST latency under load. cmd/zerocost-bench runs them all and
// prints the report; bench_test.go holds the Go benchmarks.
//
// Every load goes to 127.0.0.1; every loop is bounded in count and time.
package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/zerocost/zerocost/internal/bundle"
	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/nodetool"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/reliability"
	"github.com/zerocost/zerocost/internal/stack"
)

// Machine describes where the numbers come from.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemoryGiB string `json:"memory_gib"`
	LoadAvg   string `json:"load_avg"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	Node      string `json:"node"`
	Wrangler  string `json:"wrangler"`
	Miniflare string `json:"miniflare"`
	Workerd   string `json:"workerd"`
}

// MachineInfo reads /proc and the tools' versions.
func MachineInfo(root string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %f kB", &kb); err == nil {
			m.MemoryGiB = fmt.Sprintf("%.1f", kb/1024/1024)
		}
	}
	m.LoadAvg = LoadAvg()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if t, err := nodetool.Find(root); err == nil {
		m.Node = t.NodeVersion
		m.Wrangler = packageVersion(filepath.Join(t.WorkersDir, "node_modules", "wrangler"))
		m.Miniflare = packageVersion(filepath.Join(t.WorkersDir, "node_modules", "wrangler", "node_modules", "miniflare"))
		if m.Miniflare == "" {
			m.Miniflare = packageVersion(filepath.Join(t.WorkersDir, "node_modules", "miniflare"))
		}
		// The workerd that wrangler's Miniflare runs (nested when npm did not hoist it).
		m.Workerd = packageVersion(filepath.Join(t.WorkersDir, "node_modules", "wrangler", "node_modules", "@cloudflare", "workerd-linux-64"))
		if m.Workerd == "" {
			m.Workerd = packageVersion(filepath.Join(t.WorkersDir, "node_modules", "@cloudflare", "workerd-linux-64"))
		}
	}
	return m
}

// LoadAvg is /proc/loadavg's first three fields.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func packageVersion(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return ""
	}
	var v struct{ Version string }
	_ = json.Unmarshal(b, &v)
	return v.Version
}

// BundleSize is one product's bundled Worker.
type BundleSize struct {
	Product string `json:"product"`
	Pattern string `json:"pattern"`
	Hooks   bool   `json:"hooks"`
	Bytes   int    `json:"bytes"`
	Gzip    int    `json:"gzip_bytes"`
}

// loadPlan builds a stack's plan.
func loadPlan(projectDir, stackName string) (*plan.Plan, error) {
	cfg, err := stack.LoadFile(projectDir, stackName)
	if err != nil {
		return nil, err
	}
	return plan.Build(cfg, projectDir)
}

// BundleSizes bundles every product of the stack (minified, as deployed).
func BundleSizes(projectDir, stackName string) ([]BundleSize, error) {
	p, err := loadPlan(projectDir, stackName)
	if err != nil {
		return nil, err
	}
	var out []BundleSize
	for i := range p.Products {
		pr := &p.Products[i]
		b, err := bundle.Product(pr, projectDir, bundle.Options{})
		if err != nil {
			return nil, err
		}
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		_, _ = w.Write(b.Code)
		_ = w.Close()
		out = append(out, BundleSize{Product: pr.Name, Pattern: pr.Pattern, Hooks: pr.Hooks != "", Bytes: len(b.Code), Gzip: z.Len()})
	}
	return out, nil
}

// RenderPlanBundle is `zerocost render` in-process: load and validate the
// stack, render and parse back every wrangler config into the plan, bundle each
// Worker, and write OUT/<product>/{wrangler.toml,worker.js}.
func RenderPlanBundle(projectDir, stackName, out string) error {
	p, err := loadPlan(projectDir, stackName)
	if err != nil {
		return err
	}
	for i := range p.Products {
		pr := &p.Products[i]
		b, err := bundle.Product(pr, projectDir, bundle.Options{})
		if err != nil {
			return err
		}
		dir := filepath.Join(out, pr.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "wrangler.toml"), pr.WranglerTOML, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "worker.js"), b.Code, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// WranglerDryRun runs `wrangler deploy --dry-run --outdir` on each rendered
// product under dir (as RenderPlanBundle wrote them), one after the other,
// offline, and returns the total time.
func WranglerDryRun(ctx context.Context, root, dir string) (time.Duration, error) {
	tools, err := nodetool.Find(root)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	cfgHome, err := os.MkdirTemp("", "zerocost-bench-wrangler-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(cfgHome)
	var total time.Duration
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		pdir := filepath.Join(dir, e.Name())
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		cmd := tools.Wrangler(cctx, pdir, "deploy", "--dry-run", "--outdir", filepath.Join(pdir, "dist"))
		cmd.Env = append(cmd.Env, "XDG_CONFIG_HOME="+cfgHome, "CI=true", "NO_COLOR=1")
		var outb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &outb, &outb
		start := time.Now()
		err := cmd.Run()
		total += time.Since(start)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("wrangler deploy --dry-run in %s: %v\n%s", pdir, err, outb.String())
		}
		if !strings.Contains(outb.String(), "--dry-run: exiting now") {
			return 0, fmt.Errorf("wrangler deploy --dry-run in %s did not say it finished (wrong Node?):\n%s", pdir, outb.String())
		}
	}
	return total, nil
}

// Runtime is a running stack for the runtime benchmarks, with the bare
// baseline Worker (workers-src/bench/bare-r2.js) bound to a product's bucket.
type Runtime struct {
	Env    *reliability.Env
	Bare   string
	Client *http.Client
}

// BareName is the baseline Worker's script name.
const BareName = "zerocost-bench-bare"

// StartRuntime writes a temporary project with the stack file and starts it.
// The bare Worker binds the R2 bucket named bucket as R2.
func StartRuntime(ctx context.Context, root, stackYAML, bucket string, standIn devmodel.Options, log io.Writer) (*Runtime, func(), error) {
	dir, err := os.MkdirTemp("", "zerocost-bench-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := reliability.WriteProject(dir, "bench", stackYAML, nil); err != nil {
		cleanup()
		return nil, nil, err
	}
	env, err := reliability.Start(ctx, devrun.Options{
		ProjectDir: dir, Stack: "bench", ToolsDir: root, DataDir: filepath.Join(dir, ".zerocost"),
		StandIn: standIn, Log: log,
		ExtraWorkers: []devrun.ExtraWorker{{Name: BareName, Script: filepath.Join(root, "workers-src", "bench", "bare-r2.js"),
			R2Buckets: map[string]string{"R2": bucket}}},
	})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	rt := &Runtime{Env: env, Bare: env.RT.ExtraURL(BareName), Client: reliability.NewClient()}
	return rt, func() { _ = env.Stop(); cleanup() }, nil
}

// Workerd is the workerd process of the runtime.
func (r *Runtime) Workerd() (int, error) {
	for pid, name := range reliability.GroupProcesses(r.Env.RT.PID()) {
		if strings.HasPrefix(name, "workerd") {
			return pid, nil
		}
	}
	return 0, errors.New("no workerd process in the runner's group")
}

// Request is one request of a scenario.
type Request struct {
	Method string
	URL    string
	Body   []byte
	Header []string
	// Want is the status to expect (0: any 2xx).
	Want int
	// Check, when set, inspects the answer.
	Check func(*reliability.Response) error
}

// Do sends it.
func (r *Runtime) Do(q Request) (*reliability.Response, error) {
	h := q.Header
	if q.Body != nil {
		h = append([]string{"Content-Type", "application/json"}, h...)
	}
	resp, err := reliability.Do(r.Client, q.Method, q.URL, q.Body, h...)
	if err != nil {
		return nil, err
	}
	if q.Want != 0 && resp.Status != q.Want || q.Want == 0 && (resp.Status < 200 || resp.Status > 299) {
		return resp, fmt.Errorf("%s %s: %d %s", q.Method, q.URL, resp.Status, bytes.TrimSpace(resp.Body))
	}
	if q.Check != nil {
		if err := q.Check(resp); err != nil {
			return resp, err
		}
	}
	return resp, nil
}

// CPUResult is a scenario's CPU time per request.
type CPUResult struct {
	Name     string        `json:"name"`
	Requests int           `json:"requests"`
	Workerd  time.Duration `json:"workerd_per_request_ns"`
	Node     time.Duration `json:"node_per_request_ns"`
	Wall     time.Duration `json:"wall"`
}

// CPU sends n requests (after warm-up ones) one at a time and divides
// workerd's CPU time (user + system, /proc/<pid>/stat) over the requests and
// whatever they leave running (settle waits for it) by n. It is an upper
// bound of the Worker's CPU time: it also holds workerd's HTTP handling and
// Miniflare's R2 and queue storage, which run in the same process.
//
// settle, when set, is called with the number of requests sent so far (warm-up
// included) and returns once their work is done.
func (r *Runtime) CPU(ctx context.Context, name string, n, warm int, next func(i int) Request, settle func(sent int) error) (CPUResult, error) {
	wpid, err := r.Workerd()
	if err != nil {
		return CPUResult{}, err
	}
	node := r.Env.RT.PID()
	for i := 0; i < warm; i++ {
		if _, err := r.Do(next(-1 - i)); err != nil {
			return CPUResult{}, err
		}
	}
	if settle != nil {
		if err := settle(warm); err != nil {
			return CPUResult{}, err
		}
	}
	w0, err1 := reliability.ProcCPU(wpid)
	n0, err2 := reliability.ProcCPU(node)
	if err := errors.Join(err1, err2); err != nil {
		return CPUResult{}, err
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			return CPUResult{}, ctx.Err()
		}
		if _, err := r.Do(next(i)); err != nil {
			return CPUResult{}, err
		}
	}
	if settle != nil {
		if err := settle(warm + n); err != nil {
			return CPUResult{}, err
		}
	}
	wall := time.Since(start)
	w1, err1 := reliability.ProcCPU(wpid)
	n1, err2 := reliability.ProcCPU(node)
	if err := errors.Join(err1, err2); err != nil {
		return CPUResult{}, err
	}
	return CPUResult{Name: name, Requests: n, Workerd: (w1 - w0) / time.Duration(n), Node: (n1 - n0) / time.Duration(n), Wall: wall}, nil
}

// IdleCPU is workerd's CPU time over d with no requests.
func (r *Runtime) IdleCPU(d time.Duration) (time.Duration, error) {
	wpid, err := r.Workerd()
	if err != nil {
		return 0, err
	}
	a, err := reliability.ProcCPU(wpid)
	if err != nil {
		return 0, err
	}
	time.Sleep(d)
	b, err := reliability.ProcCPU(wpid)
	return b - a, err
}

// Latencies are the latencies of one kind of request.
type Latencies struct {
	Name string          `json:"name"`
	All  []time.Duration `json:"-"`
	P50  time.Duration   `json:"p50_ns"`
	P90  time.Duration   `json:"p90_ns"`
	P99  time.Duration   `json:"p99_ns"`
	Mean time.Duration   `json:"mean_ns"`
}

func summarize(name string, ds []time.Duration) Latencies {
	return Latencies{Name: name, All: ds, P50: reliability.Percentile(ds, 50), P90: reliability.Percentile(ds, 90),
		P99: reliability.Percentile(ds, 99), Mean: reliability.Mean(ds)}
}

// SideBySide sends a and b alternately, one at a time, n of each (after warm
// of each), so that both see the same machine at the same moments.
func (r *Runtime) SideBySide(ctx context.Context, n, warm int, a, b Request, nameA, nameB string) (Latencies, Latencies, error) {
	for i := 0; i < warm; i++ {
		if _, err := r.Do(a); err != nil {
			return Latencies{}, Latencies{}, err
		}
		if _, err := r.Do(b); err != nil {
			return Latencies{}, Latencies{}, err
		}
	}
	la, lb := make([]time.Duration, 0, n), make([]time.Duration, 0, n)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		first, second, fa := a, b, &la
		sa := &lb
		if i%2 == 1 { // alternate which goes first
			first, second, fa, sa = b, a, &lb, &la
		}
		x, err := r.Do(first)
		if err != nil {
			return Latencies{}, Latencies{}, err
		}
		y, err := r.Do(second)
		if err != nil {
			return Latencies{}, Latencies{}, err
		}
		*fa = append(*fa, x.Elapsed)
		*sa = append(*sa, y.Elapsed)
	}
	return summarize(nameA, la), summarize(nameB, lb), ctx.Err()
}

// Load sends n requests with at most conc in flight and returns their latencies.
func (r *Runtime) Load(ctx context.Context, name string, n, conc int, next func(i int) Request) (Latencies, time.Duration, error) {
	ds := make([]time.Duration, n)
	var mu sync.Mutex
	start := time.Now()
	errs := reliability.Parallel(ctx, n, conc, func(i int) error {
		resp, err := r.Do(next(i))
		if err != nil {
			return err
		}
		mu.Lock()
		ds[i] = resp.Elapsed
		mu.Unlock()
		return nil
	})
	if len(errs) > 0 {
		return Latencies{}, 0, fmt.Errorf("%s: %d errors, first: %w", name, len(errs), errs[0])
	}
	return summarize(name, ds), time.Since(start), nil
}

func readFile(parts ...string) ([]byte, error) { return os.ReadFile(filepath.Join(parts...)) }
