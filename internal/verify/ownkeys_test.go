package verify

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/apikeys"
	"github.com/zerocost/zerocost/internal/verify/verifytest"
)

// The keys verify makes on a deployed stack, against the real Workers,
// whose KV the target writes into as a deployed stack's KV API would. The
// revocations fail on purpose: sales-engine's KV write is refused, and
// ai-relay's is acknowledged but never reaches the Workers (a revocation
// that does not propagate). verify must say both: the first as a failed
// "revoke keys" naming the key and its expiry, the second as a "revoked
// key" that still works past its attempts. Every other check passes with
// verify's own keys.
func TestOwnKeysWhenRevocationFails(t *testing.T) {
	w := workers(t, rtDefault)
	st := w.rt.State()
	var mu sync.Mutex
	var written []apikeys.Record
	tg := Target{Name: TargetDeployed, URLs: verifytest.URLs(w.rt), PutKey: func(ctx context.Context, product, hash string, rec apikeys.Record) error {
		mu.Lock()
		written = append(written, rec)
		mu.Unlock()
		switch {
		case rec.RevokedAt == nil:
			return st.PutKey(ctx, product, hash, rec)
		case product == "sales-engine":
			return errors.New("HTTP 500 from the KV API")
		}
		return nil // acknowledged, never propagated
	}}
	o := routeOpts(t, tg)
	o.Products = []string{"sales-engine", "ai-relay"}
	o.WaitRevocation = true
	o.PollInterval = time.Second // 120 attempts within the bound
	ns := &noSleep{}
	o.Sleep = ns.sleep
	rep, err := Run(testCtx(t), o)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"sales-engine": "health,no key,customer key,method,bad input,unknown job,job,other customer,revoke keys,revoked key",
		"ai-relay":     "health,no key,customer key,method,bad input,cache,revoke keys,revoked key",
	}
	for product, checks := range want {
		if got := strings.Join(names(rep, product), ","); got != checks {
			t.Errorf("%s: checks %s, want %s", product, got, checks)
		}
	}
	for _, c := range rep.Checks {
		final := c.Check == CheckRevokeKeys && c.Product == "sales-engine" || c.Check == CheckRevokedKey
		if (c.Status == Pass) == final {
			t.Errorf("%s/%s: %s %s", c.Product, c.Check, c.Status, c.Detail)
		}
	}
	if d := find(t, rep, "sales-engine", CheckRevokeKeys).Detail; !strings.Contains(d, "revoking verify's keys failed: zck_") || !strings.Contains(d, "live until 20") || !strings.Contains(d, "HTTP 500") {
		t.Errorf("revoke keys: %s", d)
	}
	if d := find(t, rep, "sales-engine", CheckRevokedKey).Detail; d != "not run: no key of verify's was revoked" {
		t.Errorf("revoked key: %s", d)
	}
	if d := find(t, rep, "ai-relay", CheckRevokedKey).Detail; !strings.Contains(d, "still worked") || !strings.Contains(d, "(bound 2m0s)") {
		t.Errorf("revoked key: %s", d)
	}
	// 3 keys (2 for sales-engine, 1 for ai-relay), each written live with an
	// expiry, then once revoked. They live for the checks' bound: 50 s
	// (Timeout 30 s plus a 20 s request) per route check plus the 2 minutes
	// of the revocation wait: 7 and 8.7 minutes here.
	mu.Lock()
	defer mu.Unlock()
	if len(written) != 6 {
		t.Fatalf("%d writes, want 6: %+v", len(written), written)
	}
	for _, r := range written {
		if r.ExpiresAt == nil || !r.ExpiresAt.After(r.CreatedAt.Add(7*time.Minute)) || !r.ExpiresAt.Before(r.CreatedAt.Add(time.Hour)) {
			t.Errorf("%s of %s expires %v", r.Prefix, r.Customer, r.ExpiresAt)
		}
	}
}
