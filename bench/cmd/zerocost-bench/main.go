// Command zerocost-bench runs zerocost's benchmarks (package bench) and prints
// a Markdown report; scripts/bench.sh runs it (`make bench`). Everything runs on
// this machine against 127.0.0.1: the local runtime (workerd through
// Miniflare), the stand-in model, wrangler offline.
//
//	go run ./bench/cmd/zerocost-bench [-quick] [-only sizes,render,cpu,latency,post,guard,keys,throughput] [-json FILE]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/bench"
	"github.com/zerocost/zerocost/internal/bundle"
	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/reliability"
)

// The runtime benchmarks' stack: one product per pattern, no rate limit of
// their own in the way, public as the products were when these benchmarks
// were first measured (keys, the default since, would refuse the bench's
// requests without a key and hold each customer to its tier's door): the
// key check's own cost is the "keys" benchmark (keys.go).
const runtimeStack = `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:products:
    - name: relay
      pattern: edge-cache
      access: public
      systemPrompt: Answer in one sentence.
      settings:
        rateLimitPerMinute: 1000000
    - name: agent
      pattern: event-agent
      access: public
      systemPrompt: Answer in one sentence.
      settings:
        rateLimitPerMinute: 1000000
    - name: pipe
      pattern: async-pipeline
      access: public
      systemPrompt: Answer in one sentence.
      settings:
        batchSize: 100
        batchTimeoutSeconds: 1
        rateLimitPerMinute: 1000000
`

// Report is everything measured in one run.
type Report struct {
	Started  time.Time          `json:"started"`
	Command  string             `json:"command"`
	Machine  bench.Machine      `json:"machine"`
	LoadEnd  string             `json:"load_avg_at_end"`
	Sizes    []bench.BundleSize `json:"bundle_sizes,omitempty"`
	Render   *RenderResult      `json:"render,omitempty"`
	CPU      []bench.CPUResult  `json:"cpu,omitempty"`
	IdleCPU  time.Duration      `json:"idle_cpu_per_second_ns,omitempty"`
	Latency  []bench.Latencies  `json:"cache_hit_latency,omitempty"`
	Post     []PostResult       `json:"post_latency,omitempty"`
	Pipeline []bench.Throughput `json:"pipeline_throughput,omitempty"`
	Guard    []GuardResult      `json:"spend_guard,omitempty"`
	Keys     []KeysResult       `json:"key_check,omitempty"`
	Errors   []string           `json:"errors,omitempty"`
}

// RenderResult compares zerocost's render + plan + bundle with wrangler's dry run.
type RenderResult struct {
	GoPerOp      time.Duration   `json:"go_ns_per_op"`
	GoAllocs     int64           `json:"go_allocs_per_op"`
	WranglerRuns []time.Duration `json:"wrangler_runs_ns"`
	Wrangler     time.Duration   `json:"wrangler_median_ns"`
	Ratio        float64         `json:"ratio"`
}

// PostResult is POST latency at one concurrency, with the bare R2 write (a job record) beside it.
type PostResult struct {
	Concurrency int             `json:"concurrency"`
	Agent       bench.Latencies `json:"agent"`
	BarePut     bench.Latencies `json:"bare_put"`
	Rate        float64         `json:"agent_posts_per_second"`
}

// options are the command's flags.
type options struct {
	quick   bool
	only    string
	jsonOut string
	rpm     int
	minutes int
	verbose bool
	runner  string
	// equalOnly runs only the throughput setting where the product's own
	// limit equals the model's.
	equalOnly bool
}

// want says whether -only selects benchmark s.
func (o options) want(s string) bool {
	return o.only == "" || slices.Contains(strings.Split(o.only, ","), s)
}

// n is a count: full, or q with -quick.
func (o options) n(full, q int) int {
	if o.quick {
		return q
	}
	return full
}

func parseFlags() options {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "smaller counts and a short throughput run (a smoke test, not numbers to publish)")
	flag.StringVar(&o.only, "only", "", "comma-separated: sizes, render, cpu, latency, post, guard, keys, throughput (default: all)")
	flag.StringVar(&o.jsonOut, "json", "", "also write the report as JSON to this file")
	flag.IntVar(&o.rpm, "rpm", 120, "throughput: the stand-in model's requests per minute")
	flag.IntVar(&o.minutes, "minutes", 5, "throughput: jobs = rpm x minutes")
	flag.BoolVar(&o.equalOnly, "equal-limit-only", false, "throughput: run only the setting where the product's own limit equals the model's")
	flag.BoolVar(&o.verbose, "v", false, "print the runtime's logs to stderr")
	flag.StringVar(&o.runner, "runner", "workflow", "post: the event agent's settings.runner (workflow or waitUntil)")
	flag.Parse()
	return o
}

func main() {
	o := parseFlags()
	root, err := reliability.RepoRoot()
	if err != nil {
		fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var logw io.Writer = io.Discard
	if o.verbose {
		logw = os.Stderr
	}
	rep := &Report{Started: time.Now().UTC(), Command: strings.Join(append([]string{"zerocost-bench"}, os.Args[1:]...), " "), Machine: bench.MachineInfo(root)}
	runAll(ctx, root, rep, o, logw)
	rep.LoadEnd = bench.LoadAvg()
	printReport(os.Stdout, rep, root)
	if o.jsonOut != "" {
		data, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(o.jsonOut, data, 0o644); err != nil {
			fatal(err)
		}
	}
	if len(rep.Errors) > 0 {
		os.Exit(1)
	}
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "zerocost-bench: "+format+"\n", a...)
}

// runAll runs the benchmarks o selects into rep; a failed one is recorded in
// rep.Errors and the others still run.
func runAll(ctx context.Context, root string, rep *Report, o options, logw io.Writer) {
	fail := func(what string, err error) {
		rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", what, err))
		fmt.Fprintf(os.Stderr, "zerocost-bench: %s: %v\n", what, err)
	}
	if o.want("sizes") {
		progress("bundle sizes")
		if s, err := bench.BundleSizes(root, "demo"); err != nil {
			fail("bundle sizes", err)
		} else {
			rep.Sizes = s
		}
	}
	if o.want("render") {
		progress("render + plan + bundle vs wrangler deploy --dry-run")
		if r, err := renderVsWrangler(ctx, root, o.n(5, 1)); err != nil {
			fail("render vs wrangler", err)
		} else {
			rep.Render = r
		}
	}
	if o.want("cpu") || o.want("latency") {
		progress("CPU per request and cache-hit latency")
		if err := runtimeBench(ctx, root, rep, o.want("cpu"), o.want("latency"), o.n(2000, 300), logw); err != nil {
			fail("runtime benchmarks", err)
		}
	}
	if o.want("post") {
		progress("event-agent POST latency under load")
		if err := postBench(ctx, root, rep, o.n(600, 100), o.runner, logw); err != nil {
			fail("POST latency", err)
		}
	}
	if o.want("guard") {
		progress("the spend guard's latency: edge-cache hits and misses with and without a budget")
		if err := guardBench(ctx, root, rep, o.n(1000, 150), logw); err != nil {
			fail("spend guard", err)
		}
	}
	if o.want("keys") {
		progress("the key check's latency: the same edge-cache requests with access keys and public")
		if err := keysBench(ctx, root, rep, o.n(2000, 200), logw); err != nil {
			fail("key check", err)
		}
	}
	if o.want("throughput") {
		throughputBench(ctx, root, rep, o, logw, fail)
	}
}

func throughputBench(ctx context.Context, root string, rep *Report, o options, logw io.Writer, fail func(string, error)) {
	r, m := o.rpm, o.minutes
	if o.quick {
		r, m = 60, 2
	}
	owns := []int{1_000_000, r}
	if o.equalOnly {
		owns = owns[1:]
	}
	for _, own := range owns {
		progress("pipeline throughput: rpm %d, %d jobs, own limit %d", r, r*m, own)
		t, err := bench.PipelineThroughput(ctx, root, r, r*m, own, time.Duration(m+6)*time.Minute, logw)
		if err != nil {
			fail("pipeline throughput", err)
			continue
		}
		progress("  %s", t)
		rep.Pipeline = append(rep.Pipeline, t)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "zerocost-bench:", err)
	os.Exit(1)
}

func renderVsWrangler(ctx context.Context, root string, runs int) (*RenderResult, error) {
	tmp, err := os.MkdirTemp("", "zerocost-bench-render-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var benchErr error
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := bench.RenderPlanBundle(root, "demo", tmp); err != nil {
				benchErr = err
				b.FailNow()
			}
		}
	})
	if benchErr != nil {
		return nil, benchErr
	}
	if res.N == 0 {
		return nil, errors.New("the Go benchmark did not run")
	}
	out := &RenderResult{GoPerOp: time.Duration(res.NsPerOp()), GoAllocs: res.AllocsPerOp()}
	for i := 0; i < runs; i++ {
		d, err := bench.WranglerDryRun(ctx, root, tmp)
		if err != nil {
			return nil, err
		}
		out.WranglerRuns = append(out.WranglerRuns, d)
	}
	s := append([]time.Duration(nil), out.WranglerRuns...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	out.Wrangler = s[len(s)/2]
	out.Ratio = float64(out.Wrangler) / float64(out.GoPerOp)
	return out, nil
}

// isHit checks that an edge-cache answer came from the cache.
func isHit(r *reliability.Response) error {
	if r.Header.Get("x-cache") != "HIT" {
		return fmt.Errorf("x-cache %q, want HIT", r.Header.Get("x-cache"))
	}
	return nil
}

func runtimeBench(ctx context.Context, root string, rep *Report, cpu, latency bool, n int, logw io.Writer) error {
	// The bare Worker reads the relay's bucket (answers/<hex>.json).
	bucket := "relay-bench-outputs"
	rt, stop, err := bench.StartRuntime(ctx, root, runtimeStack, bucket, devmodel.Options{}, logw)
	if err != nil {
		return err
	}
	defer stop()
	if got := rt.Env.Plan.Product("relay").R2Buckets[0].Name; got != bucket {
		return fmt.Errorf("the relay's bucket is %s, not %s", got, bucket)
	}
	relay := rt.Env.URL("relay")
	question := []byte(`{"input":"What is a Cloudflare Worker?"}`)
	hit := bench.Request{Method: http.MethodPost, URL: relay + "/ask", Body: question, Check: isHit}
	key, err := primeCache(rt, bucket, relay, question)
	if err != nil {
		return err
	}
	bareGet := bench.Request{Method: http.MethodPost, URL: rt.Bare + "/get?key=" + key, Body: question, Check: func(r *reliability.Response) error {
		if !strings.Contains(string(r.Body), devmodel.Marker) {
			return fmt.Errorf("bare read %q", r.Body)
		}
		return nil
	}}

	if latency {
		a, b, err := rt.SideBySide(ctx, n, 200, hit, bareGet, "edge-cache POST /ask (HIT)", "bare Worker: one R2 read")
		if err != nil {
			return err
		}
		rep.Latency = append(rep.Latency, a, b)
	}
	if !cpu {
		return nil
	}
	return cpuBench(ctx, rt, rep, n, hit, bareGet)
}

// primeCache asks the relay question once and returns the key of the cache
// entry it wrote, for the bare Worker to read.
func primeCache(rt *bench.Runtime, bucket, relay string, question []byte) (string, error) {
	if _, err := rt.Do(bench.Request{Method: http.MethodPost, URL: relay + "/ask", Body: question}); err != nil {
		return "", err
	}
	for i := 0; i < 100; i++ {
		keys, err := rt.Env.R2Keys(bucket, "answers/")
		if err != nil {
			return "", err
		}
		if len(keys) == 1 {
			return keys[0], nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", errors.New("the cache entry did not appear")
}

// cpuScenario is one request kind whose workerd CPU time is measured.
type cpuScenario struct {
	name  string
	next  func(int) bench.Request
	model bool // the requests call the model (settle on the stand-in's count)
	count int
}

// cpuBench measures the workerd CPU time per request of each scenario.
func cpuBench(ctx context.Context, rt *bench.Runtime, rep *Report, n int, hit, bareGet bench.Request) error {
	idle, err := rt.IdleCPU(3 * time.Second)
	if err != nil {
		return err
	}
	rep.IdleCPU = idle / 3
	model := rt.Env.RT.Model()
	// waitModel returns once the stand-in has answered want calls, then leaves
	// time for the writes after them (and a queue batch's timeout).
	waitModel := func(want int64) error {
		for i := 0; i < 600; i++ {
			if model.Stats().Total >= want {
				time.Sleep(1500 * time.Millisecond)
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		return fmt.Errorf("the stand-in saw %d calls, want %d", model.Stats().Total, want)
	}
	// A done job to read.
	agent := rt.Env.URL("agent")
	before := model.Stats().Total
	r, err := rt.Do(bench.Request{Method: http.MethodPost, URL: agent + "/jobs", Body: []byte(`{"input":"a job to read"}`), Want: 202})
	if err != nil {
		return err
	}
	jobID, _ := r.JSON()["job_id"].(string)
	if err := waitModel(before + 1); err != nil {
		return err
	}
	for _, sc := range cpuScenarios(rt, n, jobID, hit, bareGet) {
		var settle func(int) error
		warm := 50
		if sc.model {
			warm = 5
			base := model.Stats().Total
			settle = func(sent int) error { return waitModel(base + int64(sent)) }
		}
		res, err := rt.CPU(ctx, sc.name, sc.count, warm, sc.next, settle)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		rep.CPU = append(rep.CPU, res)
	}
	return nil
}

func cpuScenarios(rt *bench.Runtime, n int, jobID string, hit, bareGet bench.Request) []cpuScenario {
	relay, agent, pipe := rt.Env.URL("relay"), rt.Env.URL("agent"), rt.Env.URL("pipe")
	fixed := func(q bench.Request) func(int) bench.Request { return func(int) bench.Request { return q } }
	// distinct numbers the inputs of the scenarios that call the model, warm-up included.
	distinct := 0
	withModel := func(url, format string) func(int) bench.Request {
		return func(int) bench.Request {
			distinct++
			return bench.Request{Method: http.MethodPost, URL: url, Body: []byte(fmt.Sprintf(format, distinct))}
		}
	}
	return []cpuScenario{
		{"bare Worker: GET /noop (the runtime's HTTP overhead)", fixed(bench.Request{Method: http.MethodGet, URL: rt.Bare + "/noop"}), false, n},
		{"edge-cache GET /health (routing, no storage)", fixed(bench.Request{Method: http.MethodGet, URL: relay + "/health"}), false, n},
		{"bare Worker: one R2 read", fixed(bareGet), false, n},
		{"edge-cache POST /ask, cache HIT (the hot path)", fixed(hit), false, n},
		{"bare Worker: one R2 write", fixed(bench.Request{Method: http.MethodPost, URL: rt.Bare + "/put", Body: hit.Body, Want: 202}), false, n / 4},
		{"event-agent GET /jobs/:id (one R2 read)", fixed(bench.Request{Method: http.MethodGet, URL: agent + "/jobs/" + jobID}), false, n},
		{"edge-cache POST /ask, MISS (model call; R2 + Cache API writes in waitUntil)", withModel(relay+"/ask", `{"input":"question number %d"}`), true, n / 4},
		{"event-agent POST /jobs, its job in waitUntil included (model call, one R2 write)", withModel(agent+"/jobs", `{"input":"agent job %d"}`), true, n / 4},
		{"async-pipeline POST /jobs (1 input), its queue consumer invocation included", withModel(pipe+"/jobs", `{"input":"pipeline job %d"}`), true, n / 4},
	}
}

func postBench(ctx context.Context, root string, rep *Report, n int, runner string, logw io.Writer) error {
	// The event agent on the chosen runner (workflow: the POST creates the
	// job's Workflow instance; waitUntil: it creates nothing).
	stackYAML := strings.Replace(runtimeStack, "      systemPrompt: Answer in one sentence.\n      settings:\n        rateLimitPerMinute: 1000000\n    - name: pipe",
		"      systemPrompt: Answer in one sentence.\n      settings:\n        rateLimitPerMinute: 1000000\n        runner: "+runner+"\n    - name: pipe", 1)
	if !strings.Contains(stackYAML, "runner: "+runner) {
		return fmt.Errorf("post: the bench stack's agent has no settings to set runner in")
	}
	// The bare Worker writes a job record to the agent's bucket, the one write a job costs.
	rt, stop, err := bench.StartRuntime(ctx, root, stackYAML, "agent-bench-outputs", devmodel.Options{Latency: 500 * time.Millisecond}, logw)
	if err != nil {
		return err
	}
	defer stop()
	agent := rt.Env.URL("agent")
	post := func(i int) bench.Request {
		return bench.Request{Method: http.MethodPost, URL: agent + "/jobs", Body: []byte(fmt.Sprintf(`{"input":"load job %d"}`, i)), Want: 202}
	}
	put := func(int) bench.Request {
		return bench.Request{Method: http.MethodPost, URL: rt.Bare + "/put", Body: []byte(`{"input":"x"}`), Want: 202}
	}
	// Warm up both.
	if _, _, err := rt.Load(ctx, "warm", 50, 4, post); err != nil {
		return err
	}
	if _, _, err := rt.Load(ctx, "warm", 50, 4, put); err != nil {
		return err
	}
	time.Sleep(time.Second)
	for _, conc := range []int{1, 8, 32} {
		a, wall, err := rt.Load(ctx, "event-agent POST /jobs", n, conc, post)
		if err != nil {
			return err
		}
		time.Sleep(time.Second) // let the jobs' model calls (500 ms) finish
		b, _, err := rt.Load(ctx, "bare Worker: one R2 write", n, conc, put)
		if err != nil {
			return err
		}
		rep.Post = append(rep.Post, PostResult{Concurrency: conc, Agent: a, BarePut: b, Rate: float64(n) / wall.Seconds()})
		time.Sleep(time.Second)
	}
	return nil
}

// GuardResult is one edge-cache scenario without a budget and with one (the
// spend guard: a D1 query before each model call, an upsert after it).
type GuardResult struct {
	Scenario string          `json:"scenario"`
	Without  bench.Latencies `json:"without_budget"`
	With     bench.Latencies `json:"with_budget"`
}

// guardBench runs the runtime stack twice, without a budget and with a
// stack-wide one far above what it spends (so the guard runs its queries and
// never refuses), and times edge-cache hits and misses one at a time in each.
func guardBench(ctx context.Context, root string, rep *Report, n int, logw io.Writer) error {
	budgeted := strings.Replace(runtimeStack, "  zerocost:products:", "  zerocost:monthlyBudgetUsd: 1000000\n  zerocost:products:", 1)
	measure := func(stackYAML, label string) (hit, miss bench.Latencies, err error) {
		rt, stop, err := bench.StartRuntime(ctx, root, stackYAML, "relay-bench-outputs", devmodel.Options{}, logw)
		if err != nil {
			return hit, miss, err
		}
		defer stop()
		relay := rt.Env.URL("relay")
		question := []byte(`{"input":"What is a Cloudflare Worker?"}`)
		if _, err := rt.Do(bench.Request{Method: http.MethodPost, URL: relay + "/ask", Body: question}); err != nil {
			return hit, miss, err
		}
		hitReq := func(int) bench.Request {
			return bench.Request{Method: http.MethodPost, URL: relay + "/ask", Body: question, Check: isHit}
		}
		missCheck := func(r *reliability.Response) error {
			if r.Status != http.StatusOK || r.Header.Get("x-cache") != "MISS" {
				return fmt.Errorf("status %d, x-cache %q, want a 200 MISS", r.Status, r.Header.Get("x-cache"))
			}
			return nil
		}
		missReq := func(phase string) func(i int) bench.Request {
			return func(i int) bench.Request {
				return bench.Request{Method: http.MethodPost, URL: relay + "/ask", Body: []byte(fmt.Sprintf(`{"input":"guard %s question %s %d"}`, phase, label, i)), Check: missCheck}
			}
		}
		if _, _, err := rt.Load(ctx, "warm", 50, 1, hitReq); err != nil {
			return hit, miss, err
		}
		if _, _, err := rt.Load(ctx, "warm", 20, 1, missReq("warm-up")); err != nil {
			return hit, miss, err
		}
		if hit, _, err = rt.Load(ctx, "edge-cache POST /ask, HIT "+label, n, 1, hitReq); err != nil {
			return hit, miss, err
		}
		miss, _, err = rt.Load(ctx, "edge-cache POST /ask, MISS "+label, n/2, 1, missReq("measured"))
		return hit, miss, err
	}
	h0, m0, err := measure(runtimeStack, "without a budget")
	if err != nil {
		return err
	}
	h1, m1, err := measure(budgeted, "with a budget")
	if err != nil {
		return err
	}
	rep.Guard = append(rep.Guard, GuardResult{"cache HIT (the guard must add nothing)", h0, h1}, GuardResult{"cache MISS (model call; one D1 query before it, the upsert in waitUntil)", m0, m1})
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func printReport(w io.Writer, r *Report, root string) {
	m := r.Machine
	fmt.Fprintf(w, "# zerocost benchmarks, %s\n\n", r.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "Command: `%s`\n\n", r.Command)
	fmt.Fprintf(w, "Machine: %d CPUs (%s), %s GiB memory, Linux %s; load average %s at the start, %s at the end.\n", m.CPUs, m.CPUModel, m.MemoryGiB, m.Kernel, m.LoadAvg, r.LoadEnd)
	fmt.Fprintf(w, "Tools: %s, Node %s, wrangler %s, Miniflare %s, workerd %s.\n\n", m.Go, m.Node, m.Wrangler, m.Miniflare, m.Workerd)
	reportSizes(w, r)
	reportRender(w, r)
	reportCPU(w, r)
	reportLatency(w, r)
	reportPost(w, r)
	reportGuard(w, r)
	reportKeys(w, r)
	reportPipeline(w, r)
	reportErrors(w, r)
}

func reportSizes(w io.Writer, r *Report) {
	writeTable(w, fmt.Sprintf("Bundle size (demo stack, minified; goal < %d KB)", bundle.SizeGoal/1024),
		"| product | pattern | hooks | bytes | KB | gzip KB | goal |\n|---|---|---|---:|---:|---:|---|",
		r.Sizes, func(s bench.BundleSize) string {
			return fmt.Sprintf("| %s | %s | %v | %d | %.1f | %.1f | %s |", s.Product, s.Pattern, s.Hooks, s.Bytes, float64(s.Bytes)/1024, float64(s.Gzip)/1024, okIf(s.Bytes < bundle.SizeGoal))
		}, "\n")
}

func reportRender(w io.Writer, r *Report) {
	x := r.Render
	if x == nil {
		return
	}
	fmt.Fprintf(w, "## Render + plan + bundle vs `wrangler deploy --dry-run` (demo stack, 4 products; goal >= 10x)\n\n")
	fmt.Fprintf(w, "| | time for the 4 products |\n|---|---:|\n| zerocost, in-process (Go benchmark, %d allocs/op) | %s |\n", x.GoAllocs, ms(x.GoPerOp))
	var runs []string
	for _, d := range x.WranglerRuns {
		runs = append(runs, fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)))
	}
	fmt.Fprintf(w, "| wrangler, one after the other (median of %d runs: %s ms) | %s |\n\nRatio: **%.0fx** (%s).\n\n", len(x.WranglerRuns), strings.Join(runs, ", "), ms(x.Wrangler), x.Ratio, okIf(x.Ratio >= 10))
}

func reportCPU(w io.Writer, r *Report) {
	if len(r.CPU) == 0 {
		return
	}
	var noop time.Duration
	for _, c := range r.CPU {
		if strings.HasPrefix(c.Name, "bare Worker: GET /noop") {
			noop = c.Workerd
		}
	}
	fmt.Fprintf(w, "## CPU time per request in workerd (goal < 1 ms on the hot path; free plan limit 10 ms)\n\n")
	fmt.Fprintf(w, "workerd's user + system CPU time (/proc/<pid>/stat) over N requests sent one at a time (after warm-up, and until the work they started is done), divided by N. An upper bound of the Worker's CPU time: the process also parses HTTP and runs Miniflare's R2/queue storage (SQLite, in the same process), which Cloudflare does not bill to the Worker. \"Over the bare no-op\" subtracts a Worker that does nothing; the bare R2 read is the storage work of a cache hit that misses the Cache API, without zerocost's code. workerd idle: %s of CPU per second.\n\n", ms(r.IdleCPU))
	fmt.Fprintf(w, "| scenario | N | workerd CPU / request | over the bare no-op | Node runner / request |\n|---|---:|---:|---:|---:|\n")
	var bareR2, hit time.Duration
	for _, c := range r.CPU {
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s |\n", c.Name, c.Requests, ms(c.Workerd), ms(c.Workerd-noop), ms(c.Node))
		switch {
		case strings.HasPrefix(c.Name, "bare Worker: one R2 read"):
			bareR2 = c.Workerd
		case strings.Contains(c.Name, "cache HIT"):
			hit = c.Workerd
		}
	}
	if bareR2 > 0 && hit > 0 {
		fmt.Fprintf(w, "\nThe hot path's own cost (cache HIT minus the bare R2 read): **%s** (%s).\n", ms(hit-bareR2), okIf(hit-bareR2 < time.Millisecond))
	}
	fmt.Fprintln(w)
}

func reportLatency(w io.Writer, r *Report) {
	if len(r.Latency) != 2 {
		return
	}
	a, b := r.Latency[0], r.Latency[1]
	fmt.Fprintf(w, "## Cache-hit latency vs a bare Worker reading one R2 object (same runtime, alternating, one at a time; goal within 1.3x)\n\n")
	fmt.Fprintf(w, "| | N | p50 | p90 | p99 | mean |\n|---|---:|---:|---:|---:|---:|\n")
	for _, l := range r.Latency {
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s |\n", l.Name, len(l.All), ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Mean))
	}
	rp50, rmean := float64(a.P50)/float64(b.P50), float64(a.Mean)/float64(b.Mean)
	fmt.Fprintf(w, "\nRatio: p50 **%.2fx**, mean %.2fx (%s).\n\n", rp50, rmean, okIf(rp50 <= 1.3))
}

// writeTable writes a report section when there are items: its title, a
// Markdown table's header (its two lines), a row an item and the footer.
func writeTable[T any](w io.Writer, title, header string, items []T, row func(T) string, footer string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(w, "## %s\n\n%s\n", title, header)
	for _, it := range items {
		fmt.Fprintln(w, row(it))
	}
	fmt.Fprint(w, footer)
}

func reportPost(w io.Writer, r *Report) {
	writeTable(w, "Event-agent POST /jobs latency under load (stand-in model latency 500 ms; goal p50 within 2x of one bare write of the job store, R2)",
		"| in flight | N | POST /jobs p50 | p99 | POSTs/s | bare R2 write p50 | p99 | p50 ratio | goal |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|",
		r.Post, func(p PostResult) string {
			ratio := float64(p.Agent.P50) / float64(p.BarePut.P50)
			return fmt.Sprintf("| %d | %d | %s | %s | %.0f | %s | %s | %.2fx | %s |", p.Concurrency, len(p.Agent.All), ms(p.Agent.P50), ms(p.Agent.P99), p.Rate, ms(p.BarePut.P50), ms(p.BarePut.P99), ratio, okIf(ratio <= 2))
		}, "\n")
}

func reportGuard(w io.Writer, r *Report) {
	writeTable(w, "The spend guard's latency (edge-cache, stand-in model latency 0, one request at a time; goal: nothing added to a hit, one D1 round trip before a model call)",
		"| scenario | N | no budget p50 | p99 | with a budget p50 | p99 | p50 added |\n|---|---:|---:|---:|---:|---:|---:|",
		r.Guard, func(g GuardResult) string {
			return fmt.Sprintf("| %s | %d | %s | %s | %s | %s | %s |", g.Scenario, len(g.With.All), ms(g.Without.P50), ms(g.Without.P99), ms(g.With.P50), ms(g.With.P99), ms(g.With.P50-g.Without.P50))
		}, "\n")
}

func reportPipeline(w io.Writer, r *Report) {
	writeTable(w, "Async-pipeline throughput against the model's rate limit (goal >= 90% of the limit, no job dead for 429s)",
		"| model rpm | product's own limit | jobs | time | done | dead | % of the limit | model calls | 429s | goal |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
		r.Pipeline, func(t bench.Throughput) string {
			own := "none (1,000,000/min)"
			if t.OwnLimit < 1_000_000 {
				own = fmt.Sprintf("%d/min", t.OwnLimit)
			}
			return fmt.Sprintf("| %d | %s | %d | %s | %d | %d | %.0f%% | %d | %d | %s |", t.RPM, own, t.Jobs, t.Elapsed.Round(time.Second), t.Done, t.Dead, 100*t.Efficiency, t.Calls, t.Calls429, okIf(t.Efficiency >= 0.9 && t.Dead == 0 && !t.TimedOut))
		}, "\n% of the limit = done / (rpm x (1 + minutes elapsed)): a rolling one-minute window admits rpm calls at once, then rpm a minute.\n\n")
}

func reportErrors(w io.Writer, r *Report) {
	if len(r.Errors) == 0 {
		return
	}
	fmt.Fprintf(w, "## Errors\n\n")
	for _, e := range r.Errors {
		fmt.Fprintf(w, "- %s\n", e)
	}
}

func okIf(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
