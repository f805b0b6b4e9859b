package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zerocost/zerocost/internal/apikeys"
)

// The checks of verify's own keys (a deployed stack).
const (
	CheckOwnKey     = "customer key"
	CheckRevokeKeys = "revoke keys"
)

// verifyOwnCustomer is the customer of the key verify makes for its
// checks on a deployed stack (the other customer is verifyOtherCustomer).
const verifyOwnCustomer = "zerocost-verify"

// RevocationBound is how long a revoked key may keep working on a deployed
// stack: Workers KV shows a write in other locations within about 60 s
// (Cloudflare docs, "How KV works"), and the Worker caches a key's record
// in its isolate for 60 s (workers-src/src/lib/keys.ts): 2 minutes.
const RevocationBound = 2 * time.Minute

// kvSameKeyWrite is the least time between two writes to one KV key:
// Workers KV takes 1 write a second to the same key (Cloudflare docs,
// Workers KV limits). Revoking a key rewrites its record.
const kvSameKeyWrite = time.Second

// ownKey is a key verify wrote for its checks, to revoke afterwards.
type ownKey struct {
	key     string
	rec     apikeys.Record
	written time.Time
}

// ownKeys are the keys verify made for one product.
type ownKeys struct {
	mu   sync.Mutex
	keys []ownKey
	// lifetime is how long a key lives (its record's expires_at, and when KV
	// deletes it): the bound of the product's checks (ownKeyLifetime).
	lifetime time.Duration
}

// makesOwnKeys reports whether verify makes its own keys for the product:
// it has keys, no key was given (a deployed stack) and verify can write
// records into its KEYS namespace.
func (p *prober) makesOwnKeys() bool {
	return p.pr.HasKeys() && p.o.Target.Keys[p.pr.Name] == "" && p.o.Target.PutKey != nil
}

// ownKeyLifetime bounds the product's checks, so that the keys outlive
// them: each of the n route checks waits at most Timeout plus one request
// (RequestTimeout), then the revocation wait (RevocationBound). A run
// slower than that sees its key expire: its checks then fail with 401
// expired, saying so. A crashed verify leaves no key valid past it.
func ownKeyLifetime(o *Options, n int) time.Duration {
	return time.Duration(n)*(o.Timeout+o.RequestTimeout) + RevocationBound
}

// ownKeySteps are the checks of a product for which verify makes its own
// keys: a key for customer zerocost-verify that the Worker takes; the job
// checks with it; a second customer's key that cannot read the first one's
// job; and, whatever failed, the revocation of both (final steps), and
// with WaitRevocation the wait until the revoked key gets 401.
func ownKeySteps(o *Options, p *prober, steps []step, add addStep) []step {
	steps = add(steps, CheckNoKey, p.noKey)
	return add(steps, CheckOwnKey, p.createOwnKey)
}

// ownKeyFinals are the steps run after all others, even when they failed.
func ownKeyFinals(o *Options, p *prober, add addStep) []step {
	var steps []step
	steps = add(steps, CheckRevokeKeys, p.revokeOwnKeys)
	if o.WaitRevocation {
		steps = add(steps, CheckRevokedKey, p.awaitRevocation)
	}
	for i := range steps {
		steps[i].final = true
	}
	return steps
}

// writeOwnKey makes a key for customer, live for the product's lifetime,
// and writes its record (one KV write); verify revokes it afterwards.
func (p *prober) writeOwnKey(ctx context.Context, customer string) (string, apikeys.Record, error) {
	key, err := apikeys.Generate(nil)
	if err != nil {
		return "", apikeys.Record{}, err
	}
	now := time.Now()
	expires := apikeys.Stamp(now.Add(p.own.lifetime + time.Second))
	created := apikeys.Stamp(now)
	rec := apikeys.Record{V: apikeys.RecordVersion, Customer: customer, Prefix: apikeys.DisplayPrefix(key),
		Product: p.pr.Name, Tier: apikeys.DefaultTier, CreatedAt: created, ExpiresAt: &expires}
	if err := p.o.Target.PutKey(ctx, p.pr.Name, apikeys.Hash(key), rec); err != nil {
		return "", rec, fmt.Errorf("writing a key record into %s's KEYS namespace: %w", p.pr.Name, err)
	}
	p.own.mu.Lock()
	p.own.keys = append(p.own.keys, ownKey{key: key, rec: rec, written: time.Now()})
	p.own.mu.Unlock()
	return key, rec, nil
}

// createOwnKey: a new key works at once. A key no location has read yet is
// read from KV's central store (Cloudflare docs, "How KV works": initial
// reads from a location go to the central stores), so the Worker finds the
// record just written. Checked with bad input: 400, past the key check,
// and no model call.
func (p *prober) createOwnKey(ctx context.Context) (string, error) {
	key, rec, err := p.writeOwnKey(ctx, verifyOwnCustomer)
	if err != nil {
		return "", err
	}
	r, path, err := p.probe(ctx, key)
	if err != nil {
		return "", err
	}
	if r.status != http.StatusBadRequest {
		return "", fmt.Errorf("POST %s with the key verify wrote (%s): want HTTP 400 invalid_input past the key check, got %s", path, apikeys.DisplayPrefix(key), r)
	}
	p.key = key
	exp := rec.ExpiresAt.Format(time.RFC3339)
	return fmt.Sprintf("%s for customer %s, expires %s: taken (POST %s: 400 %s)", apikeys.DisplayPrefix(key), verifyOwnCustomer, exp, path, r.errorCode()), nil
}

// revokeOwnKeys rewrites the record of every key verify made with
// revoked_at (one KV write each, keeping KV's expiration), after the
// checks, whether they passed or not, and even when the run was cancelled.
func (p *prober) revokeOwnKeys(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.o.RequestTimeout)
	defer cancel()
	p.own.mu.Lock()
	keys := append([]ownKey(nil), p.own.keys...)
	p.own.mu.Unlock()
	if len(keys) == 0 {
		return "", errors.New("verify made no key for this product: nothing to revoke")
	}
	var done, errs []string
	for _, k := range keys {
		if wait := kvSameKeyWrite - time.Since(k.written); wait > 0 {
			if err := p.o.Sleep(ctx, wait); err != nil {
				return "", err
			}
		}
		now := apikeys.Stamp(time.Now())
		k.rec.RevokedAt = &now
		if err := p.o.Target.PutKey(ctx, p.pr.Name, apikeys.Hash(k.key), k.rec); err != nil {
			errs = append(errs, fmt.Sprintf("%s (live until %s): %v", k.rec.Prefix, k.rec.ExpiresAt.Format(time.RFC3339), err))
			continue
		}
		p.revokedAt = time.Now()
		done = append(done, k.rec.Prefix)
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("revoking verify's keys failed: %s", strings.Join(errs, "; "))
	}
	return fmt.Sprintf("revoked %s: %d KV writes (a create and a revoke per key)", strings.Join(done, ", "), 2*len(keys)), nil
}

// awaitRevocation polls with the revoked key until the Worker answers 401
// saying revoked, up to RevocationBound after the revocation: KV's
// propagation plus the Worker's cache. Each poll is a request the key
// check refuses before any model call.
func (p *prober) awaitRevocation(ctx context.Context) (string, error) {
	if p.key == "" || p.revokedAt.IsZero() {
		return "", errors.New("not run: no key of verify's was revoked")
	}
	ctx, cancel := context.WithDeadline(ctx, p.revokedAt.Add(RevocationBound))
	defer cancel()
	last := "no answer"
	attempts := max(int((RevocationBound+p.o.PollInterval-1)/p.o.PollInterval), 1)
	for range attempts {
		r, _, err := p.probe(ctx, p.key)
		if err == nil && r.status == http.StatusUnauthorized && strings.Contains(string(r.body), "revoked") {
			return fmt.Sprintf("401 revoked %.1fs after the revocation (bound %s)", time.Since(p.revokedAt).Seconds(), RevocationBound), nil
		}
		if err == nil {
			last = r.String()
		} else if ctx.Err() == nil {
			last = err.Error()
		}
		if p.o.Sleep(ctx, p.o.PollInterval) != nil {
			break
		}
	}
	return "", fmt.Errorf("the revoked key %s still worked %s after its revocation (bound %s): last %s",
		apikeys.DisplayPrefix(p.key), time.Since(p.revokedAt).Round(time.Second), RevocationBound, last)
}
