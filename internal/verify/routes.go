package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zerocost/zerocost/internal/apikeys"
	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/stack"
)

// Route check names.
const (
	CheckHealth     = "health"
	CheckAuth       = "auth"
	CheckMethod     = "method"
	CheckBadInput   = "bad input"
	CheckUnknownJob = "unknown job"
	CheckJob        = "job"
	CheckBatch      = "batch"
	CheckCache      = "cache"
	CheckRateLimit  = "rate limit"
)

// BatchInputs is how many inputs the async-pipeline batch check posts at
// once: more than one, so the check sees one job per input; jobs posted
// together travel packed in one queue message (contract.PackMaxJobs), so the
// three cost three model calls and one message.
const BatchInputs = 3

// cacheAttempts bounds the requests the cache check makes for the second
// question (each MISS is a model call).
const cacheAttempts = 4

// rateSlack is how many requests other checks (and other clients) may have
// spent of the rate limiter's window before the rate-limit check starts.
const rateSlack = 10

// maxTransientErrors is how many 5xx or transport errors in a row end a poll.
const maxTransientErrors = 3

// prober calls one product's Worker.
type prober struct {
	o    *Options
	pr   *plan.Product
	base string
	// down is set once GET /health could not reach the product.
	down atomic.Bool
	// key is the customer key the checks send (a product with keys): the
	// target's, or the one verify made (ownkeys.go).
	key string
	// own are the keys verify made for the product; revokedAt when it
	// revoked the last of them.
	own       ownKeys
	revokedAt time.Time
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// obj decodes a JSON object body.
func (r *response) obj() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.body, &m)
	return m
}

// errorCode is the code of a {"error":{"code":...}} body.
func (r *response) errorCode() string {
	if e, ok := r.obj()["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

func (r *response) String() string {
	body := strings.TrimSpace(string(r.body))
	return fmt.Sprintf("HTTP %d %s", r.status, clip(body, 200))
}

// do sends one request. body, when not nil, is sent as JSON. With auth, it
// carries the product's customer key (a product with keys), or the admin
// token on /admin/ routes and on a product without keys.
func (p *prober) do(ctx context.Context, method, path string, body any, auth bool) (*response, error) {
	cred := ""
	if auth {
		cred = p.o.AuthToken
		if p.key != "" && !strings.HasPrefix(path, "/admin/") {
			cred = p.key
		}
	}
	return p.send(ctx, method, path, body, cred)
}

// send sends one request with cred, when not "", as its bearer token.
func (p *prober) send(ctx context.Context, method, path string, body any, cred string) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, p.o.RequestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "zerocost-verify")
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	res, err := p.o.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}, nil
}

// call sends a request with the bearer token (as do) and fails unless the
// answer has the status.
func (p *prober) call(ctx context.Context, method, path string, body any, status int) (*response, error) {
	r, err := p.do(ctx, method, path, body, true)
	if err != nil {
		return nil, err
	}
	if err := expect(method, path, r, status); err != nil {
		return nil, err
	}
	return r, nil
}

// expect fails unless the answer has the status.
func expect(method, path string, r *response, status int) error {
	if r.status == status {
		return nil
	}
	hint := ""
	if r.status == http.StatusUnauthorized && strings.HasPrefix(path, "/admin/") {
		hint = " (the admin routes want the stack's zerocost:authToken: set ZEROCOST_AUTH_TOKEN)"
	} else if r.status == http.StatusUnauthorized {
		hint = " (the product has access: keys and wants a customer key: see `zerocost verify --help`)"
	}
	return fmt.Errorf("%s %s: want HTTP %d, got %s%s", method, path, status, r, hint)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// routeSteps are a product's route checks, in order: the rate-limit check
// comes last because it exhausts the limiter.
func routeSteps(o *Options, pr *plan.Product) []step {
	base := strings.TrimSuffix(o.Target.URLs[pr.Name], "/")
	p := &prober{o: o, pr: pr, base: base, key: o.Target.Keys[pr.Name]}
	own := p.makesOwnKeys()
	add := func(steps []step, name string, run func(ctx context.Context) (string, error)) []step {
		return append(steps, step{product: pr.Name, name: name, kind: KindRoute, run: func(ctx context.Context) (string, error) {
			if err := p.notRun(name); err != nil {
				return "", err
			}
			return run(ctx)
		}})
	}
	var steps []step
	steps = add(steps, CheckHealth, p.health)
	if o.AuthToken != "" {
		steps = add(steps, CheckAuth, p.auth)
	}
	steps = keySteps(o, p, steps, add)
	if pr.HasKeys() && p.key == "" && !own {
		// Without a customer key the product's routes answer 401: only
		// health and the key check can run (a deployed stack on which
		// verify cannot write keys).
		return steps
	}
	switch pr.Pattern {
	case stack.EventAgent:
		steps = add(steps, CheckMethod, p.method("/jobs"))
		steps = add(steps, CheckBadInput, p.badInput("/jobs", map[string]any{"input": ""}))
		steps = add(steps, CheckUnknownJob, p.unknownJob)
		steps = add(steps, CheckJob, p.job)
	case stack.AsyncPipeline:
		steps = add(steps, CheckMethod, p.method("/jobs"))
		steps = add(steps, CheckBadInput, p.badInput("/jobs", map[string]any{"inputs": []string{}}))
		steps = add(steps, CheckUnknownJob, p.unknownJob)
		if pr.Settings.ModelMode == stack.ModelModeBatch {
			steps = add(steps, CheckBatchMode, p.batchMode)
		} else {
			steps = add(steps, CheckBatch, p.batch)
		}
	case stack.EdgeCache:
		steps = add(steps, CheckMethod, p.method("/ask"))
		steps = add(steps, CheckBadInput, p.badInput("/ask", map[string]any{"input": ""}))
		steps = add(steps, CheckCache, p.cache)
	}
	// async-pipeline limits model calls in its queue consumer, not on HTTP.
	if own && pr.Pattern != stack.EdgeCache {
		steps = add(steps, CheckOtherCustomer, p.otherCustomer)
	}
	if o.CheckRateLimit && (pr.Pattern == stack.EventAgent || pr.Pattern == stack.EdgeCache) {
		steps = add(steps, CheckRateLimit, p.rateLimit)
	}
	if own {
		p.own.lifetime = ownKeyLifetime(o, len(steps))
		steps = append(steps, ownKeyFinals(o, p, add)...)
	}
	return steps
}

// notRun says why a check cannot run: the product has no URL, did not
// answer GET /health, or needs the key verify failed to make.
func (p *prober) notRun(name string) error {
	if p.base == "" {
		why := p.o.Target.Unavailable[p.pr.Name]
		if why == "" {
			why = "the product has no URL (no workers.dev subdomain, route or custom domain)"
		}
		return errors.New(why)
	}
	if name != CheckHealth && p.down.Load() {
		return errors.New("not run: the product did not answer GET /health")
	}
	switch name {
	case CheckHealth, CheckAuth, CheckNoKey, CheckOwnKey, CheckRevokeKeys, CheckRevokedKey:
	default:
		if p.key == "" && p.makesOwnKeys() {
			return errors.New("not run: verify has no key for this product (see the check \"" + CheckOwnKey + "\")")
		}
	}
	return nil
}

// health: GET /health answers 200 {pattern, product} as the plan says.
func (p *prober) health(ctx context.Context) (string, error) {
	r, err := p.do(ctx, http.MethodGet, "/health", nil, false)
	if err != nil {
		p.down.Store(true)
		return "", err
	}
	if err := expect("GET", "/health", r, http.StatusOK); err != nil {
		return "", err
	}
	m := r.obj()
	if m == nil {
		return "", fmt.Errorf("GET /health: the body is not a JSON object: %s", clip(string(r.body), 200))
	}
	var ds []Drift
	if got, _ := m["pattern"].(string); got != p.pr.Pattern {
		ds = append(ds, Drift{Kind: Mismatched, Name: "pattern", Expected: p.pr.Pattern, Actual: fmt.Sprintf("%q", got)})
	}
	if got, _ := m["product"].(string); got != p.pr.Name {
		ds = append(ds, Drift{Kind: Mismatched, Name: "product", Expected: p.pr.Name, Actual: fmt.Sprintf("%q", got)})
	}
	if err := drifted(ds); err != nil {
		return "", fmt.Errorf("GET /health: %w", err)
	}
	return fmt.Sprintf("%s, %s", p.pr.Pattern, p.pr.Name), nil
}

// auth: the admin routes answer 401 without the stack's bearer token
// (zerocost:authToken guards them, and only them).
func (p *prober) auth(ctx context.Context) (string, error) {
	path := "/admin/zerocost-verify"
	r, err := p.do(ctx, http.MethodGet, path, nil, false)
	if err != nil {
		return "", err
	}
	if r.status != http.StatusUnauthorized {
		return "", fmt.Errorf("GET %s without the admin token: want HTTP 401, got %s", path, r)
	}
	// With the token the Worker lets it through to its routes: no such one.
	if _, err := p.call(ctx, http.MethodGet, path, nil, http.StatusNotFound); err != nil {
		return "", err
	}
	return "admin routes: 401 without the bearer token, 404 past it", nil
}

// method: GET on a POST-only route answers 405 naming POST in Allow.
func (p *prober) method(path string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		r, err := p.call(ctx, http.MethodGet, path, nil, http.StatusMethodNotAllowed)
		if err != nil {
			return "", err
		}
		if allow := r.header.Get("Allow"); !strings.Contains(allow, "POST") {
			return "", fmt.Errorf("GET %s: 405 with Allow %q, want it to name POST", path, allow)
		}
		return "GET " + path + ": 405, Allow: " + r.header.Get("Allow"), nil
	}
}

// badInput: an invalid body answers 400 (and costs no model call).
func (p *prober) badInput(path string, body any) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		r, err := p.call(ctx, http.MethodPost, path, body, http.StatusBadRequest)
		if err != nil {
			return "", err
		}
		code := r.errorCode()
		if code != string(contract.ErrInvalidInput) && code != string(contract.ErrInvalidJSON) {
			return "", fmt.Errorf("POST %s: 400 with error code %q, want invalid_input", path, code)
		}
		return "POST " + path + ": 400 " + code, nil
	}
}

// unknownJob: a job id nobody made answers 404.
func (p *prober) unknownJob(ctx context.Context) (string, error) {
	path := "/jobs/" + newUUID()
	if _, err := p.call(ctx, http.MethodGet, path, nil, http.StatusNotFound); err != nil {
		return "", err
	}
	return "404 for an unknown id", nil
}

func (p *prober) input(i int) string {
	return fmt.Sprintf("zerocost verify run %s, message %d: this is a test. Please answer with one short sentence.", p.o.RunID, i)
}

// job: POST /jobs gives a job id that reaches done with a result.
func (p *prober) job(ctx context.Context) (string, error) {
	r, err := p.call(ctx, http.MethodPost, "/jobs", map[string]any{"input": p.input(1)}, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	id, _ := r.obj()["job_id"].(string)
	if id == "" {
		return "", fmt.Errorf("POST /jobs: 202 without a job_id: %s", clip(string(r.body), 200))
	}
	polls, err := p.await(ctx, []string{id})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("job %s done after %d polls", id, polls), nil
}

// postBatch sends POST /jobs {"inputs": [...]} with BatchInputs inputs and
// returns the job ids, one per input.
func (p *prober) postBatch(ctx context.Context) ([]string, error) {
	inputs := make([]string, BatchInputs)
	for i := range inputs {
		inputs[i] = p.input(i + 1)
	}
	r, err := p.call(ctx, http.MethodPost, "/jobs", map[string]any{"inputs": inputs}, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	var body struct {
		JobIDs []string `json:"job_ids"`
	}
	_ = json.Unmarshal(r.body, &body)
	if len(body.JobIDs) != len(inputs) {
		return nil, fmt.Errorf("POST /jobs with %d inputs: want %d job_ids, got %s", len(inputs), len(inputs), clip(string(r.body), 200))
	}
	return body.JobIDs, nil
}

// batch: POST /jobs {"inputs": [...]} gives one job per input; all reach done.
func (p *prober) batch(ctx context.Context) (string, error) {
	ids, err := p.postBatch(ctx)
	if err != nil {
		return "", err
	}
	polls, err := p.await(ctx, ids)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d jobs done after %d polls", len(ids), polls), nil
}

// pollJob reads GET /jobs/<id> once. It returns the 200 answer; nil and no
// error for a transient failure (a network error or a 5xx, to poll again,
// until maxTransientErrors of them in a row, counted in *transient); or the
// error that ends the check. last is the status seen before, for the error.
func (p *prober) pollJob(ctx context.Context, id, last string, transient *int) (*response, error) {
	path := "/jobs/" + id
	r, err := p.do(ctx, http.MethodGet, path, nil, true)
	if err == nil && r.status >= 500 {
		err = fmt.Errorf("GET %s: %s", path, r)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("job %s: %w (last status %q)", id, ctx.Err(), last)
		}
		if *transient++; *transient >= maxTransientErrors {
			return nil, err
		}
		return nil, nil
	}
	*transient = 0
	if r.status == http.StatusNotFound {
		// A job id carries its own proof and its record lives in R2, which
		// reads what was written: there is no window in which a job the
		// Worker accepted is unknown.
		return nil, fmt.Errorf("job %s: GET %s answered 404 after the Worker accepted the job: %s", id, path, clip(string(r.body), 200))
	}
	if err := expect("GET", path, r, http.StatusOK); err != nil {
		return nil, err
	}
	return r, nil
}

// await polls GET /jobs/<id> until every job is done with a non-empty
// result, a job fails, or the attempts run out. It returns the polls made.
func (p *prober) await(ctx context.Context, ids []string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout+p.o.RequestTimeout)
	defer cancel()
	last := map[string]string{} // id -> last status seen
	pending := append([]string(nil), ids...)
	transient := 0
	attempts := p.o.attempts()
	for attempt := 1; attempt <= attempts; attempt++ {
		var err error
		if pending, err = p.pollRound(ctx, pending, last, &transient, false, nil); err != nil {
			return attempt, err
		}
		if len(pending) == 0 {
			return attempt, nil
		}
		if attempt < attempts {
			if err := p.o.Sleep(ctx, p.o.PollInterval); err != nil {
				break
			}
		}
	}
	return attempts, fmt.Errorf("not done within %s (%d polls): %s", p.o.Timeout, attempts, stillPending(pending, last))
}

// empty reports whether a result is missing, null, "", {} or [].
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// cache: a question no one asked before is a MISS; the same question with
// other spacing at its ends, a no-break space, CR LF and an invisible
// zero-width space (what the Worker's normalisation removes before the
// model, so the model's input and the key are the same) is then a HIT with
// the same answer. The run id
// makes the first question new even when the cache persists across runs, so
// a first HIT means the cache key ignores the question.
func (p *prober) cache(ctx context.Context) (string, error) {
	first := fmt.Sprintf("Zerocost verify run %s: what does an edge cache keep?", p.o.RunID)
	second := fmt.Sprintf("  Zerocost verify run %s:\u00a0what does an edge\u200b cache keep?\r\n", p.o.RunID)
	r, err := p.call(ctx, http.MethodPost, "/ask", map[string]any{"input": first}, http.StatusOK)
	if err != nil {
		return "", err
	}
	answer, ok := r.obj()["answer"]
	if !ok || empty(answer) {
		return "", fmt.Errorf("POST /ask: no answer: %s", clip(string(r.body), 200))
	}
	if xc := r.header.Get("X-Cache"); xc != "MISS" {
		return "", fmt.Errorf("POST /ask with a new question: want x-cache MISS, got %q (does the cache key ignore the question?)", xc)
	}
	n := min(cacheAttempts, p.o.attempts())
	xc := ""
	for attempt := 1; attempt <= n; attempt++ {
		r, err := p.call(ctx, http.MethodPost, "/ask", map[string]any{"input": second}, http.StatusOK)
		if err != nil {
			return "", err
		}
		xc = r.header.Get("X-Cache")
		if xc == "HIT" {
			if got := r.obj()["answer"]; !reflect.DeepEqual(got, answer) {
				return "", fmt.Errorf("the HIT's answer differs from the first: %s", clip(string(r.body), 200))
			}
			return fmt.Sprintf("MISS, then HIT for the same question with invisible characters and other spacing (attempt %d)", attempt), nil
		}
		if attempt < n {
			if err := p.o.Sleep(ctx, p.o.PollInterval); err != nil {
				return "", err
			}
		}
	}
	return "", fmt.Errorf("the same question with invisible characters and other spacing never answered x-cache HIT (%d tries, last %q)", n, xc)
}

// rateLimit: past the plan's limit per minute the Worker answers 429. The
// limit verify meets first is the lower of the model limiter's and the one
// door its requests pass (verify is one caller): DOOR_LIMITER on a public
// product, the door of its key's tier (the default tier) on a keyed one. It
// sends at most limit + limit/2 + rateSlack requests, each with a new input.
func (p *prober) rateLimit(ctx context.Context) (string, error) {
	limit := p.pr.Settings.RateLimitPerMinute
	if b := p.pr.Binding(contract.RateLimiter); b != nil && b.Type == plan.RateLimit && b.Limit > 0 {
		limit = b.Limit
	}
	door := contract.DoorLimiter
	if p.pr.HasKeys() {
		door = contract.Door(apikeys.DefaultTier)
	}
	if b := p.pr.Binding(door); b != nil && b.Type == plan.RateLimit && b.Limit > 0 && b.Limit < limit {
		limit = b.Limit
	}
	if limit <= 0 {
		return "", errors.New("the plan sets no rate limit")
	}
	maxRequests := limit + limit/2 + rateSlack
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout+p.o.RequestTimeout)
	defer cancel()
	path, field := "/jobs", "input"
	want := http.StatusAccepted
	if p.pr.Pattern == stack.EdgeCache {
		path, want = "/ask", http.StatusOK
	}
	for n := 1; n <= maxRequests; n++ {
		in := fmt.Sprintf("zerocost verify run %s rate check %d: reply with one word.", p.o.RunID, n)
		r, err := p.do(ctx, http.MethodPost, path, map[string]any{field: in}, true)
		if err != nil {
			return "", fmt.Errorf("after %d requests: %w", n-1, err)
		}
		switch r.status {
		case http.StatusTooManyRequests:
			if code := r.errorCode(); code != string(contract.ErrRateLimited) {
				return "", fmt.Errorf("429 with error code %q, want rate_limited", code)
			}
			if r.header.Get("Retry-After") == "" {
				return "", errors.New("429 without Retry-After")
			}
			if n <= limit-rateSlack {
				return "", fmt.Errorf("429 already at request %d; the plan allows %d per minute", n, limit)
			}
			return fmt.Sprintf("429 at request %d (limit %d per minute), Retry-After %s", n, limit, r.header.Get("Retry-After")), nil
		case want:
		default:
			return "", fmt.Errorf("request %d: %s", n, r)
		}
	}
	return "", fmt.Errorf("no 429 after %d requests; the plan allows %d per minute", maxRequests, limit)
}
