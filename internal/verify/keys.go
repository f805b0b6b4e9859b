package verify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/zerocost/zerocost/internal/apikeys"
	"github.com/zerocost/zerocost/internal/stack"
)

// The checks of a product with customer keys.
const (
	CheckNoKey         = "no key"
	CheckRevokedKey    = "revoked key"
	CheckOtherCustomer = "other customer"
)

// Customers of the records the key checks write (a local target).
const (
	verifyRevokedCustomer = "zerocost-verify-revoked"
	verifyOtherCustomer   = "zerocost-verify-other"
)

type addStep func(steps []step, name string, run func(ctx context.Context) (string, error)) []step

// keySteps adds a keyed product's checks: a request without a key is 401;
// with a way to write records (a local target), a revoked key is 401 and a
// job is not readable with another customer's key.
func keySteps(o *Options, p *prober, steps []step, add addStep) []step {
	if !p.pr.HasKeys() {
		return steps
	}
	if p.makesOwnKeys() {
		return ownKeySteps(o, p, steps, add)
	}
	steps = add(steps, CheckNoKey, p.noKey)
	if o.Target.PutKey == nil {
		return steps
	}
	steps = add(steps, CheckRevokedKey, p.revokedKey)
	if p.pr.Pattern != stack.EdgeCache {
		steps = add(steps, CheckOtherCustomer, p.otherCustomer)
	}
	return steps
}

// probePath is a keyed route of the product that a key check may call.
func (p *prober) probePath() (string, any) {
	if p.pr.Pattern == stack.EdgeCache {
		return "/ask", map[string]any{"prompt": ""}
	}
	return "/jobs", map[string]any{"input": ""}
}

// probe sends the probe request (probePath) with key ("" for none) and
// returns the answer and the path.
func (p *prober) probe(ctx context.Context, key string) (*response, string, error) {
	path, body := p.probePath()
	r, err := p.send(ctx, http.MethodPost, path, body, key)
	return r, path, err
}

// noKey: a request without a key answers 401 invalid_key (no KV read: the
// Worker checks for a key before any lookup).
func (p *prober) noKey(ctx context.Context) (string, error) {
	r, path, err := p.probe(ctx, "")
	if err != nil {
		return "", err
	}
	if r.status != http.StatusUnauthorized || r.errorCode() != "invalid_key" {
		return "", fmt.Errorf("POST %s without a key: want HTTP 401 invalid_key, got %s", path, r)
	}
	if r.header.Get("WWW-Authenticate") == "" {
		return "", fmt.Errorf("POST %s without a key: 401 without WWW-Authenticate", path)
	}
	return "401 invalid_key without a key", nil
}

// newKey writes a key record for customer into the product's KEYS
// namespace and returns the key; revoked records it revoked at once.
func (p *prober) newKey(ctx context.Context, customer string, revoked bool) (string, error) {
	key, err := apikeys.Generate(nil)
	if err != nil {
		return "", err
	}
	now := apikeys.Stamp(time.Now())
	rec := apikeys.Record{V: apikeys.RecordVersion, Customer: customer, Prefix: apikeys.DisplayPrefix(key),
		Product: p.pr.Name, Tier: apikeys.DefaultTier, CreatedAt: now}
	if revoked {
		rec.RevokedAt = &now
	}
	if err := p.o.Target.PutKey(ctx, p.pr.Name, apikeys.Hash(key), rec); err != nil {
		return "", fmt.Errorf("writing a key record into %s's KEYS namespace: %w", p.pr.Name, err)
	}
	return key, nil
}

// revokedKey: a key whose record says revoked answers 401 saying so. The
// key is new, so no isolate has it cached: the Worker read its record from
// KEYS, which shows the namespace is bound.
func (p *prober) revokedKey(ctx context.Context) (string, error) {
	key, err := p.newKey(ctx, verifyRevokedCustomer, true)
	if err != nil {
		return "", err
	}
	r, path, err := p.probe(ctx, key)
	if err != nil {
		return "", err
	}
	if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "revoked") {
		return "", fmt.Errorf("POST %s with a revoked key: want HTTP 401 saying revoked, got %s", path, r)
	}
	return fmt.Sprintf("401 for %s (revoked), read from KEYS", apikeys.DisplayPrefix(key)), nil
}

// otherCustomer: a job posted with the product's key is 404 to another
// customer's live key.
func (p *prober) otherCustomer(ctx context.Context) (string, error) {
	body := map[string]any{"input": p.input(0)}
	if p.pr.Pattern == stack.AsyncPipeline {
		body = map[string]any{"inputs": []string{p.input(0)}}
	}
	r, err := p.call(ctx, http.MethodPost, "/jobs", body, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	id, _ := r.obj()["job_id"].(string)
	if id == "" {
		return "", fmt.Errorf("POST /jobs: 202 without a job_id: %s", clip(string(r.body), 200))
	}
	var other string
	if p.makesOwnKeys() {
		other, _, err = p.writeOwnKey(ctx, verifyOtherCustomer)
	} else {
		other, err = p.newKey(ctx, verifyOtherCustomer, false)
	}
	if err != nil {
		return "", err
	}
	got, err := p.send(ctx, http.MethodGet, "/jobs/"+id, nil, other)
	if err != nil {
		return "", err
	}
	if got.status != http.StatusNotFound {
		return "", fmt.Errorf("GET /jobs/%s with another customer's key: want HTTP 404, got %s", id, got)
	}
	// (The job check shows a job is readable with its own key.)
	return fmt.Sprintf("job %s: 404 to customer %s", id, verifyOtherCustomer), nil
}
