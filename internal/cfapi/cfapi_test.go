package cfapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cftest"
)

const (
	acct  = "0123456789abcdef0123456789abcdef"
	zone  = "fedcba9876543210fedcba9876543210"
	token = "tok"
)

func client(s *cftest.Server, tok string) *Client {
	return New(Config{Token: tok, BaseURL: s.BaseURL(), MaxRetries: 0})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestListsPageToTheEnd(t *testing.T) {
	s := cftest.New(t, cftest.WithToken(token), cftest.WithMaxPerPage(2))
	s.AddAccount(acct)
	for i := range 5 {
		s.AddBucket(acct, fmt.Sprintf("bucket-%d", i))
		s.AddQueue(acct, fmt.Sprintf("q-%d", i))
		s.AddKVNamespace(acct, fmt.Sprintf("kv-%d", i))
		s.AddD1Database(acct, fmt.Sprintf("db-%d", i))
	}
	for i := range 3 {
		s.AddConsumer(acct, "q-0", cftest.Consumer{ScriptName: fmt.Sprintf("w%d", i), Settings: cftest.ConsumerSettings{BatchSize: i + 1}})
	}
	c := client(s, token)
	bs, err := c.Buckets(ctx(t), acct)
	if err != nil || strings.Join(bs, ",") != "bucket-0,bucket-1,bucket-2,bucket-3,bucket-4" {
		t.Errorf("buckets %v %v", bs, err)
	}
	qs, err := c.Queues(ctx(t), acct)
	if err != nil || len(qs) != 5 || qs[0].Name != "q-0" || qs[4].Name != "q-4" || qs[4].ID == "" {
		t.Fatalf("queues %v %v", qs, err)
	}
	cs, err := c.Consumers(ctx(t), acct, qs[0].ID)
	if err != nil || len(cs) != 3 || cs[2].ScriptName != "w2" || cs[2].BatchSize != 3 || cs[2].Type != "worker" || cs[2].MaxConcurrency != nil {
		t.Errorf("consumers %+v %v", cs, err)
	}
	kvs, err := c.KVNamespaces(ctx(t), acct)
	if err != nil || len(kvs) != 5 || kvs[0].Title != "kv-0" || kvs[4].Title != "kv-4" || kvs[4].ID == "" {
		t.Errorf("KV namespaces %v %v", kvs, err)
	}
	dbs, err := c.D1Databases(ctx(t), acct)
	if err != nil || len(dbs) != 5 || dbs[0].Name != "db-0" || dbs[4].Name != "db-4" || dbs[4].ID == "" {
		t.Errorf("D1 databases %v %v", dbs, err)
	}
	// Pages of 2: queues asked pages 1-3 (the last holds one queue, and
	// total_pages says it is the last).
	qPages := s.PagesAsked("/queues")
	if strings.Join(qPages, ",") != "1,2,3" {
		t.Errorf("queue pages asked: %v", qPages)
	}
	for _, list := range []string{"/storage/kv/namespaces", "/d1/database"} {
		if pages := s.PagesAsked(list); strings.Join(pages, ",") != "1,2,3" {
			t.Errorf("%s pages asked: %v", list, pages)
		}
	}
}

func TestScriptsRoutesDomains(t *testing.T) {
	s := cftest.New(t, cftest.WithToken(token))
	s.AddAccount(acct)
	s.AddZone(zone)
	s.PutScript(acct, cftest.Script{Name: "w", CompatibilityDate: "2026-06-01", WorkersDev: true, Bindings: []cftest.Binding{
		{Type: "kv_namespace", Name: "JOBS", NamespaceID: "id1"},
		{Type: "secret_text", Name: "KEY", Text: "hidden"},
		{Type: "ratelimit", Name: "RL", NamespaceID: "7", Simple: &cftest.RateLimitSimple{Limit: 60, Period: 60}},
		{Type: "some_future_type", Name: "NEW"},
	}})
	s.SetSubdomain(acct, "zc")
	s.AddRoute(zone, "a.example.com/*", "w")
	s.AddCustomDomain(acct, cftest.CustomDomain{Hostname: "b.example.com", Service: "w", ZoneID: zone})
	c := client(s, token)

	st, err := c.ScriptSettings(ctx(t), acct, "w")
	if err != nil {
		t.Fatal(err)
	}
	if st.CompatibilityDate != "2026-06-01" || len(st.Bindings) != 4 {
		t.Fatalf("settings %+v", st)
	}
	if b := st.Bindings[1]; b.Type != "secret_text" || b.Text != "" {
		t.Errorf("secret %+v", b)
	}
	if b := st.Bindings[2]; b.Simple == nil || b.Simple.Limit != 60 || b.NamespaceID != "7" {
		t.Errorf("ratelimit %+v", b)
	}
	if on, err := c.ScriptOnWorkersDev(ctx(t), acct, "w"); err != nil || !on {
		t.Errorf("workers.dev %v %v", on, err)
	}
	if sub, err := c.AccountSubdomain(ctx(t), acct); err != nil || sub != "zc" {
		t.Errorf("subdomain %q %v", sub, err)
	}
	if rs, err := c.Routes(ctx(t), zone); err != nil || len(rs) != 1 || rs[0].Pattern != "a.example.com/*" || rs[0].Script != "w" {
		t.Errorf("routes %v %v", rs, err)
	}
	if ds, err := c.CustomDomains(ctx(t), acct); err != nil || len(ds) != 1 || ds[0].Hostname != "b.example.com" || ds[0].ZoneID != zone {
		t.Errorf("domains %v %v", ds, err)
	}

	_, err = c.ScriptSettings(ctx(t), acct, "nope")
	if !IsNotFound(err) || IsAuth(err) || !strings.Contains(err.Error(), "This Worker does not exist") {
		t.Errorf("missing script: %v", err)
	}
}

func TestAuthErrors(t *testing.T) {
	s := cftest.New(t, cftest.WithToken(token))
	s.AddAccount(acct)
	_, err := client(s, "wrong").Queues(ctx(t), acct)
	if !IsAuth(err) || IsNotFound(err) {
		t.Fatalf("bad token: %v", err)
	}
	if want := "list queues: Cloudflare answered HTTP 403: Authentication error (code 10000)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if _, err := client(s, token).Queues(ctx(t), "ffffffffffffffffffffffffffffffff"); !IsAuth(err) {
		t.Errorf("unknown account: %v", err)
	}
}

func TestRetriesServerErrors(t *testing.T) {
	s := cftest.New(t, cftest.WithToken(token))
	s.AddAccount(acct)
	s.AddBucket(acct, "b")
	s.AddFault(cftest.Fault{Path: "/accounts/" + acct + "/r2", Status: 503, Errors: []cftest.Message{{Code: 1000, Message: "busy"}}, Times: 1})
	c := New(Config{Token: token, BaseURL: s.BaseURL(), MaxRetries: 1})
	if bs, err := c.Buckets(ctx(t), acct); err != nil || len(bs) != 1 {
		t.Errorf("after one 503: %v %v", bs, err)
	}
	s.AddFault(cftest.Fault{Path: "/accounts/" + acct + "/r2", Status: 503, Errors: []cftest.Message{{Code: 1000, Message: "busy"}}})
	_, err := client(s, token).Buckets(ctx(t), acct)
	if err == nil || !strings.Contains(err.Error(), "HTTP 503: busy (code 1000)") {
		t.Errorf("persistent 503: %v", err)
	}
}

// A server that ignores ?page= must not keep the client paging forever.
func TestPagingIsBounded(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"success":true,"errors":[],"messages":[],"result":[{"queue_id":"x","queue_name":"t"}],"result_info":{"page":1,"per_page":1,"count":1}}`)
	}))
	defer srv.Close()
	c := New(Config{Token: token, BaseURL: srv.URL + "/client/v4/", MaxRetries: 0})
	_, err := c.Queues(ctx(t), acct)
	if err == nil || !strings.Contains(err.Error(), "more than 200 pages") {
		t.Errorf("got %v", err)
	}
	if got := n.Load(); got != MaxPages {
		t.Errorf("%d requests, want %d", got, MaxPages)
	}
}
