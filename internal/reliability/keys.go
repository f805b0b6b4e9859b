package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/apikeys"
	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/devrun"
)

// keyTransport gives the suites' requests the customer key zerocost dev
// created for each product with keys, so that the suites run with keys on:
// a request to a product's route (not /admin/) that carries the stack's
// AUTH_TOKEN as its bearer token gets the product's key instead (the
// suites were written when that token guarded every route), and, in a
// stack without a token, a request with no credential gets the key. Any
// other credential (a wrong token, a malformed header) goes as it is.
type keyTransport struct {
	base  http.RoundTripper
	keys  map[string]string // product base URL -> key
	token string            // the stack's AUTH_TOKEN, "" when none
}

func (k keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := k.base
	if base == nil { // as http.Client does with no Transport
		base = http.DefaultTransport
	}
	return base.RoundTrip(k.apply(r))
}

// apply returns the request with the product's key where RoundTrip gives it.
func (k keyTransport) apply(r *http.Request) *http.Request {
	key := ""
	for base, v := range k.keys {
		if strings.HasPrefix(r.URL.String(), base+"/") {
			key = v
		}
	}
	if key == "" || strings.HasPrefix(r.URL.Path, "/admin/") {
		return r
	}
	auth := r.Header.Values("Authorization")
	switch {
	case k.token != "" && len(auth) == 1 && auth[0] == "Bearer "+k.token:
	case k.token == "" && len(auth) == 0 && r.Header.Get("x-api-key") == "":
	default:
		return r
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+key)
	return r
}

// WithKey is the request as the Env's client would send it: with the
// product's key in place of the stack's token (for requests sent otherwise,
// e.g. on a raw connection).
func (e *Env) WithKey(r *http.Request) *http.Request {
	if k, ok := e.Client.Transport.(keyTransport); ok {
		return k.apply(r)
	}
	return r
}

// withKeys wraps a client so its requests carry the runtime's dev keys.
func withKeys(c *http.Client, rt *devrun.Runtime, token string) *http.Client {
	return keyClient(c, rt.Products(), token)
}

// keyClient wraps a client so its requests carry the products' dev keys.
func keyClient(c *http.Client, products []devrun.Product, token string) *http.Client {
	keys := map[string]string{}
	for _, p := range products {
		if p.Key != "" {
			keys[p.URL] = p.Key
		}
	}
	out := *c
	out.Transport = keyTransport{base: c.Transport, keys: keys, token: token}
	return &out
}

// CustomerKey writes a live key of a new customer into the product's KEYS
// namespace through dev's KV API and returns it.
func (e *Env) CustomerKey(t testing.TB, product, customer string) string {
	t.Helper()
	return e.TierKey(t, product, customer, apikeys.DefaultTier)
}

// TierKey is CustomerKey for a customer of the given tier (one of the
// product's tiers: its door, DOOR_<TIER>, is the one its requests pass).
func (e *Env) TierKey(t testing.TB, product, customer, tier string) string {
	t.Helper()
	key, err := apikeys.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := apikeys.Record{V: apikeys.RecordVersion, Customer: customer, Prefix: apikeys.DisplayPrefix(key),
		Product: product, Tier: tier, CreatedAt: apikeys.Stamp(time.Now())}
	st := e.RT.State()
	if err := st.PutKey(context.Background(), product, apikeys.Hash(key), rec); err != nil {
		t.Fatal(err)
	}
	return key
}

// Keys is the key manager of a product's KEYS namespace in the running
// runtime, through dev's KV API and the same client as `zerocost keys
// --local` (apikeys over cloudflare-go's kv package): Create is `keys create
// --local`, Revoke `keys revoke --local`.
func (e *Env) Keys(t testing.TB, product string) *apikeys.Keys {
	t.Helper()
	st := e.RT.State()
	p := st.Product(product)
	if st.KVAPIURL == "" || p == nil || p.KeysNamespaceID == "" {
		t.Fatalf("the runtime serves no KEYS namespace for %s", product)
	}
	store := apikeys.NewStore(cfapi.Config{Token: "zerocost-dev", BaseURL: st.KVAPIURL}, st.KVAccountID, p.KeysNamespaceID)
	return &apikeys.Keys{Store: store, Product: product}
}

// SpendRows runs a query on the stack's spend database (D1) through the
// inspector and returns its rows.
func (e *Env) SpendRows(sql string, params ...any) ([]map[string]any, error) {
	body, err := json.Marshal(map[string]any{"sql": sql, "params": params})
	if err != nil {
		return nil, err
	}
	r, err := e.Do(http.MethodPost, e.inspect+"/d1/spend", body, "Content-Type", "application/json")
	if err != nil {
		return nil, err
	}
	if r.Status != 200 {
		return nil, fmt.Errorf("inspector /d1/spend: %d %.300s", r.Status, r.Body)
	}
	var v struct{ Rows []map[string]any }
	if err := json.Unmarshal(r.Body, &v); err != nil {
		return nil, err
	}
	return v.Rows, nil
}

// as is the Env whose client sends key as the caller's credential.
func (e *Env) as(key string) *Env {
	c := *e.Client
	c.Transport = bearerTransport{base: e.Client.Transport, key: key}
	out := *e
	out.Client = &c
	return &out
}

// bearerTransport sends every request with Authorization: Bearer key (which
// the Env's keyTransport, a different credential, passes as it is).
type bearerTransport struct {
	base http.RoundTripper
	key  string
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.base.RoundTrip(r)
}
