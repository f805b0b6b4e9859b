package apikeys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cftest"
)

const account = "0123456789abcdef0123456789abcdef"

var keyRe = regexp.MustCompile(`^zck_[0-9A-Za-z]{36}$`)

func TestGenerateAndValidate(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		k, err := Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !keyRe.MatchString(k) || len(k) != Len || Len != 40 {
			t.Fatalf("key %q does not have the format", k)
		}
		if err := Validate(k); err != nil {
			t.Fatalf("a fresh key is refused: %v", err)
		}
		if seen[k] {
			t.Fatal("a key repeated")
		}
		seen[k] = true
	}
}

func TestChecksumIsCRC32InBase62(t *testing.T) {
	// CRC32 (IEEE) of "123456789" is 0xCBF43926 = 3421780262, which is
	// 3*62^5 + 45*62^4 + 35*62^3 + 27*62^2 + 22*62 + 14: "3jZRME" in base62
	// with the alphabet 0-9, A-Z, a-z.
	if got := checksum("123456789"); got != "3jZRME" {
		t.Fatalf("checksum = %q, want 3jZRME", got)
	}
	if got := checksum(""); got != "000000" {
		t.Fatalf("checksum of nothing (CRC 0) = %q, want 000000", got)
	}
}

func TestValidateRefusesEveryOneCharacterTypo(t *testing.T) {
	k, err := Generate(bytes.NewReader(bytes.Repeat([]byte{7, 200, 33, 250, 61}, 100)))
	if err != nil {
		t.Fatal(err)
	}
	for i := len(Prefix); i < Len; i++ {
		for _, c := range []byte{'0', 'z', 'Q'} {
			if k[i] == c {
				continue
			}
			typo := k[:i] + string(c) + k[i+1:]
			if err := Validate(typo); !errors.Is(err, ErrMalformed) {
				t.Fatalf("typo at %d accepted", i)
			}
		}
	}
	for _, bad := range []string{"", "zck_", "sk-ant-" + k[7:], k + "0", k[:39], strings.Replace(k, k[10:11], "-", 1), "ZCK_" + k[4:]} {
		err := Validate(bad)
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("%q accepted", bad)
		}
		if len(bad) > DisplayLen && strings.Contains(err.Error(), bad) {
			t.Fatalf("the error repeats the key: %v", err)
		}
	}
}

func TestHashIsSHA256Hex(t *testing.T) {
	// SHA-256 of "abc" (FIPS 180-2, appendix B.1).
	if got := Hash("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatal(got)
	}
}

func TestParseExpires(t *testing.T) {
	now := time.Date(2026, 12, 7, 5, 30, 12, 0, time.UTC)
	cases := map[string]string{
		"30d":        "2027-01-06T05:30:12Z",
		"1d":         "2026-12-08T05:30:12Z",
		"2027-01-31": "2027-01-31T00:00:00Z",
	}
	for in, want := range cases {
		got, err := ParseExpires(in, now)
		if err != nil || got.Format(time.RFC3339) != want {
			t.Errorf("ParseExpires(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"0d", "-1d", "3651d", "d", "1.5d", "2026-12-07", "2026-01-01", "2040-01-01", "31/01/2027", "tomorrow", ""} {
		if _, err := ParseExpires(bad, now); err == nil {
			t.Errorf("ParseExpires(%q) accepted", bad)
		}
	}
}

func TestRecordJSON(t *testing.T) {
	budget := 25.0
	r := Record{V: 1, Customer: "acme", Prefix: "zck_Ab12Cd34", Product: "ai-relay", Tier: "standard",
		MonthlyBudgetUSD: &budget, CreatedAt: time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"customer":"acme","prefix":"zck_Ab12Cd34","product":"ai-relay","tier":"standard","monthly_budget_usd":25,"created_at":"2026-12-07T05:00:00Z","expires_at":null,"revoked_at":null}`
	if string(b) != want {
		t.Fatalf("record JSON\n got %s\nwant %s", b, want)
	}
	r.Customer = strings.Repeat("a", 1000)
	if _, err := r.Marshal(); err == nil {
		t.Fatal("a record over KV's 1024-byte metadata limit was accepted")
	}
}

func TestCheckNames(t *testing.T) {
	for _, ok := range []string{"acme", "a", "acme-co.eu_1", strings.Repeat("a", 63)} {
		if CheckCustomer(ok) != nil {
			t.Errorf("customer %q refused", ok)
		}
	}
	for _, bad := range []string{"", "Acme", "-acme", "acme co", strings.Repeat("a", 64), "ä"} {
		if CheckCustomer(bad) == nil {
			t.Errorf("customer %q accepted", bad)
		}
	}
	if CheckTier("pro_2") != nil || CheckTier("Pro") == nil || CheckTier("2x") == nil {
		t.Error("tier names")
	}
	if CheckBudget(0) != nil || CheckBudget(-1) == nil {
		t.Error("budgets")
	}
}

// fakeKeys is a product's Keys against a fake Cloudflare API, with a clock
// the test moves.
func fakeKeys(t *testing.T) (*Keys, *cftest.Server, string, *time.Time) {
	t.Helper()
	srv := cftest.New(t, cftest.WithAccount(account), cftest.WithToken("cf-token"))
	ns := srv.AddKVNamespace(account, "relay-demo-keys").ID
	now := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	k := &Keys{Store: NewStore(cfapi.Config{Token: "cf-token", BaseURL: srv.BaseURL()}, account, ns),
		Product: "relay", Now: func() time.Time { return now }}
	t.Cleanup(func() {
		if u := srv.Unknown(); len(u) > 0 {
			t.Errorf("calls the fake has no route for: %v", u)
		}
	})
	return k, srv, ns, &now
}

func TestCreateStoresOnlyTheHash(t *testing.T) {
	k, srv, ns, _ := fakeKeys(t)
	budget := 25.0
	iss, err := k.Create(context.Background(), CreateParams{Customer: "acme", MonthlyBudgetUSD: &budget})
	if err != nil {
		t.Fatal(err)
	}
	vals := srv.KVValues(account, ns)
	v, found := vals["k:"+Hash(iss.Key)]
	if !found || len(vals) != 1 {
		t.Fatalf("stored %v, want one record under k:<sha256>", vals)
	}
	if string(v.Value) != string(v.Metadata) {
		t.Fatalf("value and metadata differ:\n%s\n%s", v.Value, v.Metadata)
	}
	if strings.Contains(string(v.Value)+string(v.Metadata), iss.Key) {
		t.Fatal("the key itself was stored")
	}
	if iss.Record.Tier != DefaultTier || *iss.Record.MonthlyBudgetUSD != 25 || iss.Record.Prefix != iss.Key[:12] {
		t.Fatalf("record %+v", iss.Record)
	}
	got, found, err := k.Store.Get(context.Background(), Hash(iss.Key))
	if err != nil || !found || got.Customer != "acme" {
		t.Fatalf("Get = %+v %v %v", got, found, err)
	}
}

func TestCreateAppliesTierAndBudgetToTheCustomer(t *testing.T) {
	k, _, _, now := fakeKeys(t)
	ctx := context.Background()
	first, err := k.Create(ctx, CreateParams{Customer: "acme", Tier: "pro"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := k.Create(ctx, CreateParams{Customer: "globex", Tier: "pro"})
	*now = now.Add(time.Minute)
	ten := 10.0
	second, err := k.Create(ctx, CreateParams{Customer: "acme", Tier: "standard", MonthlyBudgetUSD: &ten})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Changed) != 1 || second.Changed[0].Hash != Hash(first.Key) {
		t.Fatalf("changed %+v, want acme's first key", second.Changed)
	}
	entries, _ := k.Store.List(ctx)
	for _, e := range entries {
		want := "standard"
		if e.Hash == Hash(other.Key) {
			want = "pro"
		}
		if e.Record.Tier != want {
			t.Errorf("%s/%s has tier %s, want %s", e.Record.Customer, e.Record.Prefix, e.Record.Tier, want)
		}
	}
}

func TestRevokeByCustomerAndByPrefix(t *testing.T) {
	k, srv, _, now := fakeKeys(t)
	ctx := context.Background()
	a1, _ := k.Create(ctx, CreateParams{Customer: "acme"})
	a2, _ := k.Create(ctx, CreateParams{Customer: "acme"})
	g, _ := k.Create(ctx, CreateParams{Customer: "globex"})
	*now = now.Add(time.Minute)

	done, err := k.Revoke(ctx, RevokeParams{Key: g.Record.Prefix})
	if err != nil || len(done) != 1 || done[0].Hash != Hash(g.Key) {
		t.Fatalf("revoke by prefix: %v %+v", err, done)
	}
	done, err = k.Revoke(ctx, RevokeParams{Customer: "acme"})
	if err != nil || len(done) != 2 {
		t.Fatalf("revoke by customer: %v %+v", err, done)
	}
	entries, _ := k.Store.List(ctx)
	for _, e := range entries {
		if e.Record.RevokedAt == nil || !e.Record.RevokedAt.Equal(*now) || e.Record.State(*now) != "revoked" {
			t.Errorf("%s not revoked at %s: %+v", e.Record.Prefix, now, e.Record.RevokedAt)
		}
	}
	// Again: nothing left to revoke, and a whole key works too.
	if done, err := k.Revoke(ctx, RevokeParams{Key: a1.Key}); err != nil || len(done) != 0 {
		t.Fatalf("revoking a revoked key: %v %+v", err, done)
	}
	if _, err := k.Revoke(ctx, RevokeParams{Customer: "initech"}); err == nil {
		t.Fatal("revoking a customer without keys succeeded")
	}

	// A mistyped key is refused before any KV call.
	before := len(srv.Requests())
	typo := a2.Key[:20] + flip(a2.Key[20]) + a2.Key[21:]
	_, err = k.Revoke(ctx, RevokeParams{Key: typo})
	if !errors.Is(err, ErrMalformed) || strings.Contains(err.Error(), typo) {
		t.Fatalf("typo: %v", err)
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Fatalf("a mistyped key cost %d API calls, want 0", n)
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestRotateKeepsTierAndBudgetAndSetsGrace(t *testing.T) {
	k, _, _, now := fakeKeys(t)
	ctx := context.Background()
	budget := 40.0
	old, _ := k.Create(ctx, CreateParams{Customer: "acme", Tier: "pro", MonthlyBudgetUSD: &budget})
	*now = now.Add(time.Hour)
	iss, err := k.Rotate(ctx, "acme", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if iss.Record.Tier != "pro" || iss.Record.MonthlyBudgetUSD == nil || *iss.Record.MonthlyBudgetUSD != 40 || iss.Record.ExpiresAt != nil {
		t.Fatalf("new record %+v", iss.Record)
	}
	if len(iss.Changed) != 1 || iss.Changed[0].Hash != Hash(old.Key) {
		t.Fatalf("changed %+v", iss.Changed)
	}
	rec, _, _ := k.Store.Get(ctx, Hash(old.Key))
	if want := now.Add(24 * time.Hour); rec.ExpiresAt == nil || !rec.ExpiresAt.Equal(want) {
		t.Fatalf("old key expires %v, want %v", rec.ExpiresAt, want)
	}
	if !rec.Live(now.Add(23*time.Hour)) || rec.Live(now.Add(24*time.Hour)) {
		t.Fatal("the old key is not live exactly for the grace period")
	}
	if _, err := k.Rotate(ctx, "globex", time.Hour); !errors.Is(err, errNoLiveKey) {
		t.Fatalf("rotating a customer without keys: %v", err)
	}
}

func TestKeyNamesAreEscapedOnTheWire(t *testing.T) {
	var uris []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uris = append(uris, r.RequestURI)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"success":true,"errors":[],"messages":[],"result":{}}`)
	}))
	defer srv.Close()
	s := NewStore(cfapi.Config{Token: "t", BaseURL: srv.URL}, account, "ns")
	if err := s.Put(context.Background(), "ab", Record{V: 1, Customer: "acme", Prefix: "zck_12345678"}); err != nil {
		t.Fatal(err)
	}
	if want := "/client/v4/accounts/" + account + "/storage/kv/namespaces/ns/values/k%3Aab"; len(uris) != 1 || uris[0] != want {
		t.Fatalf("requests %v, want %s", uris, want)
	}
}
