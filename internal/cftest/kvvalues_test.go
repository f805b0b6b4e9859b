package cftest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/shared"
)

const kvAccount = "0123456789abcdef0123456789abcdef"

// kvClient is cloudflare-go's kv service against a fake with one namespace,
// and a clock the test moves.
type kvClient struct {
	s    *Server
	ns   string
	svc  *kv.NamespaceService
	mu   sync.Mutex
	time time.Time
}

func newKVClient(t *testing.T) *kvClient {
	c := &kvClient{time: time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)}
	c.s = New(t, WithAccount(kvAccount), WithClock(func() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.time }))
	c.ns = c.s.AddKVNamespace(kvAccount, "relay-demo-keys").ID
	c.svc = kv.NewNamespaceService(option.WithBaseURL(c.s.BaseURL()), option.WithAPIToken("t"), option.WithMaxRetries(0))
	t.Cleanup(func() {
		if u := c.s.Unknown(); len(u) > 0 {
			t.Errorf("requests the fake has no route for: %v", u)
		}
	})
	return c
}

func (c *kvClient) put(t *testing.T, key, value string, metadata any, ttl float64) error {
	t.Helper()
	var p kv.NamespaceValueUpdateParams
	p.AccountID.Value, p.AccountID.Present = kvAccount, true
	p.Value.Value, p.Value.Present = kv.NamespaceValueUpdateParamsValueUnion(shared.UnionString(value)), true
	if metadata != nil {
		p.Metadata.Value, p.Metadata.Present = metadata, true
	}
	if ttl > 0 {
		p.ExpirationTTL.Value, p.ExpirationTTL.Present = ttl, true
	}
	_, err := c.svc.Values.Update(context.Background(), c.ns, url.PathEscape(key), p)
	return err
}

func (c *kvClient) get(t *testing.T, key string) (string, int) {
	t.Helper()
	var p kv.NamespaceValueGetParams
	p.AccountID.Value, p.AccountID.Present = kvAccount, true
	res, err := c.svc.Values.Get(context.Background(), c.ns, url.PathEscape(key), p)
	var ae *kv.Error
	if errors.As(err, &ae) {
		return "", ae.StatusCode
	}
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b), res.StatusCode
}

func (c *kvClient) list(t *testing.T, prefix string, limit float64) []kv.Key {
	t.Helper()
	var p kv.NamespaceKeyListParams
	p.AccountID.Value, p.AccountID.Present = kvAccount, true
	p.Prefix.Value, p.Prefix.Present = prefix, true
	p.Limit.Value, p.Limit.Present = limit, true
	pager := c.svc.Keys.ListAutoPaging(context.Background(), c.ns, p)
	var out []kv.Key
	for pager.Next() {
		out = append(out, pager.Current())
	}
	if err := pager.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestKVValuesThroughCloudflareGo(t *testing.T) {
	c := newKVClient(t)
	meta := `{"customer":"acme","v":1}`
	if err := c.put(t, "k:abc", `{"v":1,"customer":"acme"}`, meta, 0); err != nil {
		t.Fatal(err)
	}
	if got, status := c.get(t, "k:abc"); status != http.StatusOK || got != `{"v":1,"customer":"acme"}` {
		t.Fatalf("GET value = %d %q", status, got)
	}
	var mp kv.NamespaceMetadataGetParams
	mp.AccountID.Value, mp.AccountID.Present = kvAccount, true
	md, err := c.svc.Metadata.Get(context.Background(), c.ns, "k:abc", mp)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := (*md).(map[string]any); !ok || m["customer"] != "acme" {
		t.Fatalf("metadata = %#v, want the JSON object written as a string", *md)
	}
	if stored := c.s.KVValues(kvAccount, c.ns)["k:abc"]; string(stored.Metadata) != meta {
		t.Fatalf("stored metadata = %s", stored.Metadata)
	}

	// A key name with a slash and a space is one segment once escaped.
	if err := c.put(t, "a/b c", "x", nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, found := c.s.KVValues(kvAccount, c.ns)["a/b c"]; !found {
		t.Fatalf("the escaped key was not stored under its decoded name: %v", c.s.KVValues(kvAccount, c.ns))
	}

	// A map is flattened by the SDK into metadata.<key> fields: refused.
	if err := c.put(t, "k:map", "x", map[string]any{"customer": "acme"}, 0); err == nil {
		t.Fatal("metadata sent as a Go map was accepted; the SDK does not send it as JSON")
	}

	var dp kv.NamespaceValueDeleteParams
	dp.AccountID.Value, dp.AccountID.Present = kvAccount, true
	if _, err := c.svc.Values.Delete(context.Background(), c.ns, "k:abc", dp); err != nil {
		t.Fatal(err)
	}
	if _, status := c.get(t, "k:abc"); status != http.StatusNotFound {
		t.Fatalf("GET after DELETE = %d, want 404", status)
	}
}

func TestKVKeyListPagesAndFilters(t *testing.T) {
	c := newKVClient(t)
	for i := range 25 {
		if err := c.put(t, fmt.Sprintf("k:%02d", i), "v", fmt.Sprintf(`{"i":%d}`, i), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.put(t, "other", "v", nil, 0); err != nil {
		t.Fatal(err)
	}
	keys := c.list(t, "k:", 10)
	if len(keys) != 25 || keys[0].Name != "k:00" || keys[24].Name != "k:24" {
		t.Fatalf("listed %d keys (%v), want k:00..k:24 in order", len(keys), keys)
	}
	if keys[7].JSON.Metadata.Raw() != `{"i":7}` {
		t.Fatalf("metadata of k:07 = %s", keys[7].JSON.Metadata.Raw())
	}
	cursors := 0
	for _, r := range c.s.Requests() {
		if r.Query.Get("cursor") != "" {
			cursors++
		}
	}
	if cursors != 2 {
		t.Fatalf("the pager asked with a cursor %d times, want 2 (pages of 10, 10, 5)", cursors)
	}
	if all := c.list(t, "", 1000); len(all) != 26 {
		t.Fatalf("unfiltered list has %d keys, want 26", len(all))
	}
}

func TestKVExpiredValuesAreGone(t *testing.T) {
	c := newKVClient(t)
	if err := c.put(t, "k:short", "v", nil, 60); err != nil {
		t.Fatal(err)
	}
	if err := c.put(t, "k:bad", "v", nil, 59); err == nil {
		t.Fatal("an expiration_ttl under 60 s was accepted")
	}
	if _, status := c.get(t, "k:short"); status != http.StatusOK {
		t.Fatalf("GET before expiry = %d", status)
	}
	c.mu.Lock()
	c.time = c.time.Add(61 * time.Second)
	c.mu.Unlock()
	if _, status := c.get(t, "k:short"); status != http.StatusNotFound {
		t.Fatalf("GET after expiry = %d, want 404", status)
	}
	if keys := c.list(t, "k:", 10); len(keys) != 0 {
		t.Fatalf("expired keys listed: %v", keys)
	}
}

func TestKVUnknownNamespace(t *testing.T) {
	c := newKVClient(t)
	c.ns = "ffffffffffffffffffffffffffffffff"
	if _, status := c.get(t, "k:x"); status != http.StatusNotFound {
		t.Fatalf("GET in a missing namespace = %d, want 404", status)
	}
}
