// Package verify checks that a stack's products work and that what Cloudflare
// holds is what the plan says: route checks call each product's Worker over
// HTTP (health, method and input errors, a job or a batch run to the end, the
// edge cache answering HIT), and resource checks read the account through
// package cfapi and report drift by name (missing, extra, mismatched).
//
// Run is the entry point for `zerocost verify` and for the deploy command.
// Every wait is bounded by a number of attempts and by the context; sleeping
// between attempts goes through Options.Sleep, so tests never wait.
package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/zerocost/zerocost/internal/apikeys"
	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan"
)

// Kind says what a check looks at.
type Kind string

// Check kinds.
const (
	KindRoute    Kind = "route"
	KindResource Kind = "resource"
)

// Status is a check's outcome.
type Status string

// Statuses.
const (
	Pass Status = "pass"
	Fail Status = "fail"
)

// Drift kinds.
const (
	Missing    = "missing"
	Extra      = "extra"
	Mismatched = "mismatched"
)

// Drift is one difference between the plan and the account.
type Drift struct {
	// Kind is missing, extra or mismatched.
	Kind string `json:"kind"`
	// Name says what differs, e.g. "binding CACHE" or "settings.batch_size".
	Name     string `json:"name"`
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
}

func (d Drift) String() string {
	switch d.Kind {
	case Mismatched:
		return fmt.Sprintf("mismatched %s: expected %s, got %s", d.Name, d.Expected, d.Actual)
	case Extra:
		if d.Actual != "" {
			return fmt.Sprintf("extra %s (%s)", d.Name, d.Actual)
		}
	case Missing:
		if d.Expected != "" {
			return fmt.Sprintf("missing %s (%s)", d.Name, d.Expected)
		}
	}
	return d.Kind + " " + d.Name
}

// Check is one check's result.
type Check struct {
	Product   string  `json:"product"`
	Check     string  `json:"check"`
	Kind      Kind    `json:"kind"`
	Status    Status  `json:"status"`
	LatencyMS int64   `json:"latency_ms"`
	Detail    string  `json:"detail,omitempty"`
	Drift     []Drift `json:"drift,omitempty"`
}

// Report is a whole run.
type Report struct {
	Stack string `json:"stack"`
	// Target is "local" or "deployed".
	Target     string    `json:"target"`
	Passed     bool      `json:"passed"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	Checks     []Check   `json:"checks"`
}

// Failed lists the failed checks.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status != Pass {
			out = append(out, c)
		}
	}
	return out
}

// Target says where the products answer.
type Target struct {
	// Name is "local" (a running `zerocost dev`) or "deployed".
	Name string
	// URLs maps a product to its base URL (no trailing slash needed).
	URLs map[string]string
	// Unavailable maps a product without a URL to the reason, e.g. "not
	// running in zerocost dev".
	Unavailable map[string]string
	// TriggerCron, when set, runs a product's cron triggers now (a local
	// target: the running dev's scheduled handlers); the batch-mode check
	// calls it to poll the Message Batches. Nil for a deployed stack, whose
	// crons run on their schedule.
	TriggerCron func(ctx context.Context, product string) error
	// Keys maps a product with keys to a live customer key the checks
	// send (a local target: the key dev created; never printed).
	Keys map[string]string
	// PutKey, when set, writes a key record into a product's KEYS
	// namespace (a local target: dev's KV API); the revoked-key and
	// other-customer checks use it. Nil for a deployed stack.
	PutKey func(ctx context.Context, product, hash string, rec apikeys.Record) error
}

// Target names.
const (
	TargetLocal    = "local"
	TargetDeployed = "deployed"
)

// DeployedTarget is a deployed stack's target: each product's URL from the
// stack outputs, else from the plan. With outputs, a product they do not
// list is unavailable (not deployed).
func DeployedTarget(p *plan.Plan, out outputs.Stack) Target {
	tg := Target{Name: TargetDeployed, URLs: map[string]string{}, Unavailable: map[string]string{}}
	for _, pr := range p.Products {
		op, deployed := out[pr.Name]
		switch {
		case out != nil && !deployed:
			tg.Unavailable[pr.Name] = "not in the stack outputs: is it deployed (`pulumi up`)?"
		case op.URL != "":
			tg.URLs[pr.Name] = op.URL
		case pr.URL != "":
			tg.URLs[pr.Name] = pr.URL
		}
	}
	return tg
}

// KeysNamespaces are the KEYS namespace ids the outputs name, by product.
func KeysNamespaces(out outputs.Stack) map[string]string {
	ids := map[string]string{}
	for name, op := range out {
		if id := op.KVNamespaceIDs[contract.Keys]; id != "" {
			ids[name] = id
		}
	}
	return ids
}

// NeedsAuthToken reports whether the stack's Workers want a bearer token
// (the stack sets zerocost:authToken, so the plan binds AUTH_TOKEN).
func NeedsAuthToken(p *plan.Plan) bool {
	for _, pr := range p.Products {
		if b := pr.Binding(contract.AuthToken); b != nil && b.Type == plan.Secret {
			return true
		}
	}
	return false
}

// API is what resource checks read; *cfapi.Client implements it.
type API interface {
	Buckets(ctx context.Context, account string) ([]string, error)
	Queues(ctx context.Context, account string) ([]cfapi.Queue, error)
	Consumers(ctx context.Context, account, queueID string) ([]cfapi.Consumer, error)
	ScriptSettings(ctx context.Context, account, script string) (*cfapi.ScriptSettings, error)
	ScriptOnWorkersDev(ctx context.Context, account, script string) (bool, error)
	AccountSubdomain(ctx context.Context, account string) (string, error)
	Routes(ctx context.Context, zone string) ([]cfapi.Route, error)
	CustomDomains(ctx context.Context, account string) ([]cfapi.CustomDomain, error)
	D1Databases(ctx context.Context, account string) ([]cfapi.D1Database, error)
	KVNamespaces(ctx context.Context, account string) ([]cfapi.KVNamespace, error)
	BucketLifecycle(ctx context.Context, account, bucket string) ([]cfapi.LifecycleRule, error)
	Workflow(ctx context.Context, account, name string) (*cfapi.Workflow, error)
}

// Defaults.
const (
	DefaultTimeout        = 60 * time.Second
	DefaultPollInterval   = time.Second
	DefaultRequestTimeout = 40 * time.Second
)

// Options configure a run.
type Options struct {
	Plan   *plan.Plan
	Target Target
	// Products limits the run to these products (default: all).
	Products []string
	// HTTPClient calls the Workers (default http.DefaultClient).
	HTTPClient *http.Client
	// AuthToken is sent as a bearer token to the admin routes (and every
	// route of a product without a key); when set, an "auth" check expects
	// 401 from an admin route without it.
	AuthToken string
	// Timeout bounds each wait: a job or a batch reaching done, the cache
	// answering HIT, the rate limiter answering 429 (default 60 s).
	Timeout time.Duration
	// PollInterval is the pause between polls (default 1 s).
	PollInterval time.Duration
	// RequestTimeout bounds one HTTP request (default 40 s: edge-cache
	// answers a MISS synchronously, with a 25 s model deadline).
	RequestTimeout time.Duration
	// CheckRateLimit adds the rate-limit check (it spends model budget).
	CheckRateLimit bool
	// WaitRevocation adds, after verify revoked its own keys (a deployed
	// stack), the wait until the revoked key gets 401: up to
	// RevocationBound.
	WaitRevocation bool
	// SkipRoutes leaves out the route checks.
	SkipRoutes bool
	// Resources, when set, adds the resource checks against the plan's account.
	Resources API
	// Outputs are the deployed stack's outputs, compared with the account
	// when present (queue ids, bucket names).
	Outputs outputs.Stack
	// RunID makes this run's inputs unique (default: random).
	RunID string
	// Sleep waits between polls (default: a timer that honours ctx).
	Sleep func(ctx context.Context, d time.Duration) error
	// Progress, when set, is called after each check, one call at a time.
	Progress func(done, total int, c Check)
}

// ErrNoChecks is returned when the options leave nothing to check.
var ErrNoChecks = errors.New("nothing to check")

// step is a check not yet run.
type step struct {
	product string
	name    string
	kind    Kind
	run     func(ctx context.Context) (string, error)
	// final steps run after the product's others, whatever happened to
	// them (the revocation of verify's own keys).
	final bool
}

// Run runs every check and returns the report. Its error is for unusable
// options only (no plan, an unknown product); failed checks are in the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Plan == nil {
		return nil, errors.New("verify: no plan")
	}
	o.setDefaults()
	products, err := o.products()
	if err != nil {
		return nil, err
	}
	rep := &Report{Stack: o.Plan.Stack, Target: o.Target.Name, StartedAt: time.Now()}
	var inv *inventory
	if o.Resources != nil {
		inv = newInventory(o.Resources, o.Plan.AccountID)
	}
	// Plan every product's steps first, so progress knows the total.
	groups := make([][]step, len(products))
	total := 0
	for i, pr := range products {
		if !o.SkipRoutes {
			groups[i] = append(groups[i], routeSteps(&o, pr)...)
		}
		if inv != nil {
			groups[i] = append(groups[i], resourceSteps(&o, inv, pr)...)
		}
		total += len(groups[i])
	}
	if total == 0 {
		return nil, ErrNoChecks
	}
	results := make([][]Check, len(products))
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for i := range products {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runGroup(ctx, groups[i], func(c Check) {
				results[i] = append(results[i], c)
				mu.Lock()
				done++
				if o.Progress != nil {
					o.Progress(done, total, c)
				}
				mu.Unlock()
			})
		}()
	}
	wg.Wait()
	rep.Passed = true
	for _, rs := range results {
		for _, c := range rs {
			rep.Checks = append(rep.Checks, c)
			if c.Status != Pass {
				rep.Passed = false
			}
		}
	}
	rep.DurationMS = time.Since(rep.StartedAt).Milliseconds()
	return rep, nil
}

// runGroup runs a product's steps in order, its final steps last in a
// defer: they run even when a step panics.
func runGroup(ctx context.Context, steps []step, record func(Check)) {
	var regular, finals []step
	for _, s := range steps {
		if s.final {
			finals = append(finals, s)
		} else {
			regular = append(regular, s)
		}
	}
	defer func() {
		for _, s := range finals {
			record(runStep(ctx, s))
		}
	}()
	for _, s := range regular {
		record(runStep(ctx, s))
	}
}

func runStep(ctx context.Context, s step) Check {
	start := time.Now()
	detail, err := s.run(ctx)
	c := Check{Product: s.product, Check: s.name, Kind: s.kind, Status: Pass, Detail: detail, LatencyMS: time.Since(start).Milliseconds()}
	if err != nil {
		c.Status = Fail
		c.Detail = err.Error()
		var de *driftError
		if errors.As(err, &de) {
			c.Drift = de.drift
		}
	}
	return c
}

// driftError is a failure that lists drift.
type driftError struct{ drift []Drift }

func (e *driftError) Error() string {
	parts := make([]string, len(e.drift))
	for i, d := range e.drift {
		parts[i] = d.String()
	}
	return joinClipped(parts, "; ", 600)
}

func drifted(ds []Drift) error {
	if len(ds) == 0 {
		return nil
	}
	return &driftError{drift: ds}
}

func joinClipped(parts []string, sep string, max int) string {
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += sep
		}
		out += p
	}
	return clip(out, max)
}

func clip(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}

func (o *Options) setDefaults() {
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.RunID == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		o.RunID = hex.EncodeToString(b)
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Target.Name == "" {
		o.Target.Name = TargetDeployed
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (o *Options) products() ([]*plan.Product, error) {
	var out []*plan.Product
	for _, name := range o.Products {
		if o.Plan.Product(name) == nil {
			var known []string
			for _, p := range o.Plan.Products {
				known = append(known, p.Name)
			}
			return nil, fmt.Errorf("stack %s has no product %q (it has %v)", o.Plan.Stack, name, known)
		}
	}
	for i := range o.Plan.Products {
		pr := &o.Plan.Products[i]
		if len(o.Products) == 0 || slices.Contains(o.Products, pr.Name) {
			out = append(out, pr)
		}
	}
	return out, nil
}

// attempts is how many polls fit in the timeout (at least one).
func (o *Options) attempts() int {
	n := int(o.Timeout / o.PollInterval)
	if o.Timeout%o.PollInterval != 0 {
		n++
	}
	return max(n, 1)
}
