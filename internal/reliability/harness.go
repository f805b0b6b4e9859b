// Package reliability holds zerocost's reliability suites (the _test.go files:
// the async pipeline under failing model calls, the event agent under load, the
// edge cache, a corpus of bad input, secrets) and the harness they share with
// the benchmarks in bench/: temporary projects, the local runtime with an
// inspector Worker that reads the products' R2 and writes to their
// queues, bounded HTTP load, and percentiles.
//
// Sizes: `go test ./internal/reliability/` runs bounded sizes (a couple of
// minutes on 2 cores); ZEROCOST_RELIABILITY=full runs the full sizes (2,000
// pipeline jobs, 1,000 agent jobs, ...: `make reliability`). See
// docs/reliability.md.
package reliability

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/stack"
	"github.com/zerocost/zerocost/internal/stack/stacktest"
)

// EnvSize is the environment variable that chooses the sizes: "full" for the
// full ones, anything else for the bounded ones.
const EnvSize = "ZEROCOST_RELIABILITY"

// Full reports whether the full sizes were asked for.
func Full() bool { return strings.EqualFold(os.Getenv(EnvSize), "full") }

// Size is bounded, or full when Full().
func Size(bounded, full int) int {
	if Full() {
		return full
	}
	return bounded
}

// RepoRoot is the folder holding go.mod, found upwards from the working
// directory (tests run in their package's folder).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// WriteProject writes Pulumi.yaml and Pulumi.<stack>.yaml (config is the
// stack file's content) into dir, plus any extra files (relative paths).
func WriteProject(dir, stackName, config string, files map[string]string) error {
	return stacktest.WriteProject(dir, stackName, config, files)
}

//go:embed inspector.js
var inspectorJS []byte

// InspectorName is the inspector Worker's script name.
const InspectorName = "zerocost-inspector"

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9]`)

// bindingName is the inspector's binding for a bucket or queue (kind R2 or
// Q); inspector.js derives the same.
func bindingName(kind, name string) string {
	return kind + "_" + unsafeChars.ReplaceAllString(name, "_")
}

// Env is a running stack with its inspector.
type Env struct {
	RT      *devrun.Runtime
	Plan    *plan.Plan
	Client  *http.Client
	inspect string
}

// Start loads the stack's plan, adds the inspector (bound to every bucket
// and queue of the plan) to o.ExtraWorkers and starts the
// runtime. o.DataDir must be set (the inspector's script is written there).
func Start(ctx context.Context, o devrun.Options) (*Env, error) {
	if o.DataDir == "" {
		return nil, errors.New("reliability.Start: set DataDir")
	}
	if o.Plan == nil {
		cfg, err := stack.LoadFile(o.ProjectDir, o.Stack)
		if err != nil {
			return nil, err
		}
		p, err := plan.Build(cfg, o.ProjectDir)
		if err != nil {
			return nil, err
		}
		o.Plan = p
	}
	if o.ToolsDir == "" {
		root, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		o.ToolsDir = root
	}
	script := filepath.Join(o.DataDir, "inspector", "inspector.js")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(script, inspectorJS, 0o644); err != nil {
		return nil, err
	}
	ins := devrun.ExtraWorker{Name: InspectorName, Script: script,
		R2Buckets: map[string]string{}, QueueProducers: map[string]string{}}
	if db := o.Plan.SpendDatabase; db != nil {
		ins.D1Databases = map[string]string{"D1_SPEND": db.Name}
	}
	for _, pr := range o.Plan.Products {
		for _, b := range pr.Bindings {
			if b.Type == plan.R2 {
				ins.R2Buckets[bindingName("R2", b.Target)] = b.Target
			}
		}
		for _, q := range pr.Queues {
			ins.QueueProducers[bindingName("Q", q.Name)] = q.Name
		}
	}
	o.ExtraWorkers = append(o.ExtraWorkers, ins)
	rt, err := devrun.Start(ctx, o)
	if err != nil {
		return nil, err
	}
	return &Env{RT: rt, Plan: o.Plan, Client: withKeys(NewClient(), rt, o.AuthToken), inspect: rt.ExtraURL(InspectorName)}, nil
}

// Stop stops the runtime.
func (e *Env) Stop() error { return e.RT.Stop() }

// URL is a product's base URL.
func (e *Env) URL(product string) string {
	if p := e.RT.Product(product); p != nil {
		return p.URL
	}
	return ""
}

// R2Keys lists a bucket's keys.
func (e *Env) R2Keys(bucket, prefix string) ([]string, error) {
	return e.keys("/r2/"+url.PathEscape(bucket), prefix)
}

func (e *Env) keys(path, prefix string) ([]string, error) {
	r, err := e.Do(http.MethodGet, e.inspect+path+"?prefix="+url.QueryEscape(prefix), nil)
	if err != nil {
		return nil, err
	}
	if r.Status != 200 {
		return nil, fmt.Errorf("inspector %s: %d %s", path, r.Status, r.Body)
	}
	var v struct{ Keys []string }
	if err := json.Unmarshal(r.Body, &v); err != nil {
		return nil, err
	}
	sort.Strings(v.Keys)
	return v.Keys, nil
}

// R2GetMany reads objects; a missing one is absent from the map.
func (e *Env) R2GetMany(bucket string, keys []string) (map[string][]byte, error) {
	data, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	r, err := e.Do(http.MethodPost, e.inspect+"/r2/"+url.PathEscape(bucket)+"/getmany", data, "Content-Type", "application/json")
	if err != nil {
		return nil, err
	}
	if r.Status != 200 {
		return nil, fmt.Errorf("inspector getmany: %d %.300s", r.Status, r.Body)
	}
	var v struct{ Objects map[string]*string }
	if err := json.Unmarshal(r.Body, &v); err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(v.Objects))
	for k, o := range v.Objects {
		if o != nil {
			out[k] = []byte(*o)
		}
	}
	return out, nil
}

// JobRecord is what a job pattern stores at jobs/<id>.json in its bucket.
type JobRecord struct {
	JobID     string    `json:"job_id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Result    any       `json:"result,omitempty"`
	Error     string    `json:"error,omitempty"`
	Attempts  int       `json:"attempts,omitempty"`
	Input     *string   `json:"input,omitempty"`
}

// JobKey is the key of a job's record.
func JobKey(id string) string { return "jobs/" + id + ".json" }

// JobRecords reads the records of the given jobs (those that have one).
func (e *Env) JobRecords(bucket string, ids []string) (map[string]JobRecord, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = JobKey(id)
	}
	out := map[string]JobRecord{}
	for i := 0; i < len(keys); i += 500 {
		objs, err := e.R2GetMany(bucket, keys[i:min(i+500, len(keys))])
		if err != nil {
			return nil, err
		}
		for k, data := range objs {
			var rec JobRecord
			if err := json.Unmarshal(data, &rec); err != nil {
				return nil, fmt.Errorf("%s: %v: %.300s", k, err, data)
			}
			out[strings.TrimSuffix(strings.TrimPrefix(k, "jobs/"), ".json")] = rec
		}
	}
	return out, nil
}

// R2Get reads an object; ok is false when it is missing.
func (e *Env) R2Get(bucket, key string) (_ []byte, ok bool, _ error) {
	return e.get("/r2/"+url.PathEscape(bucket)+"/get", key)
}

func (e *Env) get(path, key string) ([]byte, bool, error) {
	r, err := e.Do(http.MethodGet, e.inspect+path+"?key="+url.QueryEscape(key), nil)
	if err != nil {
		return nil, false, err
	}
	switch r.Status {
	case 200:
		return r.Body, true, nil
	case 404:
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("inspector %s %s: %d %s", path, key, r.Status, r.Body)
}

// Enqueue puts messages on a product's queue, as the producer (or a
// redelivery) would.
func (e *Env) Enqueue(queue string, bodies []any) error {
	data, err := json.Marshal(bodies)
	if err != nil {
		return err
	}
	r, err := e.Do(http.MethodPost, e.inspect+"/queue/"+url.PathEscape(queue), data, "Content-Type", "application/json")
	if err != nil {
		return err
	}
	if r.Status != 200 {
		return fmt.Errorf("inspector enqueue %s: %d %s", queue, r.Status, r.Body)
	}
	return nil
}

// NewClient is an HTTP client for load on 127.0.0.1: many idle connections,
// a 60 s timeout per request.
func NewClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 512
	tr.MaxIdleConnsPerHost = 256
	tr.Proxy = nil
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// Response is a read response.
type Response struct {
	Status  int
	Header  http.Header
	Body    []byte
	Elapsed time.Duration
}

// JSON decodes the body into a map (nil when it is not a JSON object).
func (r *Response) JSON() map[string]any {
	var m map[string]any
	if json.Unmarshal(r.Body, &m) != nil {
		return nil
	}
	return m
}

// Do sends one request; header is name, value pairs. Elapsed runs from the
// send to the end of the body.
func (e *Env) Do(method, u string, body []byte, header ...string) (*Response, error) {
	return Do(e.Client, method, u, body, header...)
}

// Do sends one request with a client; see Env.Do.
func Do(c *http.Client, method, u string, body []byte, header ...string) (*Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Add(header[i], header[i+1])
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data, Elapsed: time.Since(start)}, nil
}

// Parallel runs fn(i) for i in [0, n) on at most workers goroutines and
// returns the errors fn returned (nil when none). It stops starting new calls
// once ctx is done.
func Parallel(ctx context.Context, n, workers int, fn func(i int) error) []error {
	if workers < 1 {
		workers = 1
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return errs
}

// Percentile is the p-th percentile (0..100) of ds, nearest rank; 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(len(s)-1, max(0, rank-1))]
}

// Mean is the average of ds.
func Mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// ProcCPU is the user+system CPU time a process has used, from
// /proc/<pid>/stat (Linux only).
func ProcCPU(pid int) (time.Duration, error) {
	if runtime.GOOS != "linux" {
		return 0, errors.New("process CPU time is read from /proc: Linux only")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command", pid)
	}
	f := strings.Fields(s[i+1:]) // state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const hz = 100 // USER_HZ: 100 on every Linux this runs on
	return time.Duration(ut+st) * time.Second / hz, nil
}

// GroupProcesses lists the live processes of a process group (the dev
// runner's group holds Node and workerd) as pid -> command name.
func GroupProcesses(pgid int) map[int]string {
	out := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(data)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(s[j+1:])
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			out[pid] = s[i+1 : j]
		}
	}
	return out
}
