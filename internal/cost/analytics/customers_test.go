package analytics

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cftest"
	"github.com/zerocost/zerocost/internal/cost/analytics/analyticstest"
)

const custAcct = "0123456789abcdef0123456789abcdef"

// spendStore is the fake Cloudflare API with a spend database seeded with rows.
func spendStore(t *testing.T, rows ...map[string]any) (*cfapi.Client, string) {
	t.Helper()
	s := cftest.New(t, cftest.WithToken("tok"))
	s.AddAccount(custAcct)
	db := s.AddD1Database(custAcct, "demo-spend")
	s.SeedD1Rows(custAcct, db.UUID, SpendTable, rows...)
	return cfapi.New(cfapi.Config{Token: "tok", BaseURL: s.BaseURL(), MaxRetries: 0}), db.UUID
}

func spendRow(month, product, customer string, nanos, calls, in, out int64) map[string]any {
	return map[string]any{"month": month, "product": product, "customer": customer, "nanos": nanos, "calls": calls, "input_tokens": in, "output_tokens": out}
}

// The month's exact figures come from the spend store's rows of that month,
// the sampled requests from Analytics Engine within the month; a customer
// only one source saw still has its row.
func TestMeasureCustomers(t *testing.T) {
	d1, dbID := spendStore(t,
		spendRow("2026-11", "ai-relay", "acme", 8_400_000_001, 12, 4800, 1200),
		spendRow("2026-11", "ai-relay", "globex", 3, 1, 10, 2),
		spendRow("2026-10", "ai-relay", "acme", 99, 99, 99, 99), // another month
		spendRow("2026-11", "pipeline", "acme", 5, 2, 20, 4),
	)
	ae := analyticstest.New(t, custAcct, "tok")
	nov := func(d int) time.Time { return time.Date(2026, 11, d, 12, 0, 0, 0, time.UTC) }
	ae.CustomerPoints = []analyticstest.CustomerPoint{
		{At: nov(1), Product: "ai-relay", Customer: "acme", Mode: "realtime", Weight: 10},
		{At: nov(30), Product: "ai-relay", Customer: "acme", Weight: 4},                     // before the mode field: a call
		{At: nov(3), Product: "ai-relay", Customer: "acme", Mode: "cache_hit", Weight: 20},  // answered by the cache
		{At: nov(4), Product: "ai-relay", Customer: "globex", Mode: "cache_hit", Weight: 1}, // a hit of a customer with one call
		{At: nov(5), Product: "ai-relay", Customer: "hooli", Mode: "cache_hit", Weight: 3},  // hits only: no spend row
		{At: nov(6), Product: "ai-relay", Customer: "", Mode: "cache_hit", Weight: 5},       // no key (a public product)
		{At: nov(6), Product: "pipeline", Customer: "acme", Mode: "batch", Weight: 2},
		{At: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Product: "ai-relay", Customer: "acme", Weight: 1000}, // December
		{At: nov(2), Product: "ai-relay", Customer: "initech", Weight: 2},                                       // no spend row
		{At: nov(2), Product: "elsewhere", Customer: "acme", Weight: 7},                                         // not the stack's
	}
	client := &Client{BaseURL: ae.URL, Token: "tok", AccountID: custAcct, MaxRetries: -1}
	r, err := MeasureCustomers(context.Background(), d1, client, CustomerRequest{Month: nov(15), Products: []string{"ai-relay", "pipeline"}, AccountID: custAcct, DatabaseID: dbID})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range r.Rows {
		got = append(got, strings.Join([]string{u.Product, u.Customer, count(u.Requests), count(u.CacheHits), itoa(u.ModelCalls), itoa(u.InputTokens), itoa(u.OutputTokens), u.ModelCostUSD.String()}, " "))
	}
	// requests = call points + hit points; the hits counted apart too.
	want := []string{"ai-relay  5 5 0 0 0 0.00", "ai-relay acme 34 20 12 4800 1200 8.400000001", "ai-relay globex 1 1 1 10 2 0.000000003",
		"ai-relay hooli 3 3 0 0 0 0.00", "ai-relay initech 2 0 0 0 0 0.00", "pipeline acme 2 0 2 20 4 0.000000005"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.Month != "2026-11" || r.Total.ModelCalls != 15 || r.Total.ModelCostUSD != 8_400_000_009 || *r.Total.Requests != 47 || *r.Total.CacheHits != 29 {
		t.Errorf("report %+v", r)
	}
}

// Without Analytics Engine (zerocost dev) requests are not measured; a
// spend store without the table is an error naming it.
func TestMeasureCustomersWithoutAnalytics(t *testing.T) {
	d1, dbID := spendStore(t, spendRow("2026-11", "ai-relay", "acme", 1, 1, 1, 1))
	r, err := MeasureCustomers(context.Background(), d1, nil, CustomerRequest{Month: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), AccountID: custAcct, DatabaseID: dbID})
	if err != nil || len(r.Rows) != 1 || r.Rows[0].Requests != nil || r.Rows[0].CacheHits != nil || r.Total.Requests != nil || r.Total.CacheHits != nil {
		t.Fatalf("%+v %v", r, err)
	}
	s := cftest.New(t)
	s.AddAccount(custAcct)
	db := s.AddD1Database(custAcct, "empty")
	empty := cfapi.New(cfapi.Config{Token: "tok", BaseURL: s.BaseURL(), MaxRetries: 0})
	_, err = MeasureCustomers(context.Background(), empty, nil, CustomerRequest{Month: time.Now(), AccountID: custAcct, DatabaseID: db.UUID})
	if err == nil || !strings.Contains(err.Error(), "the spend store") || !strings.Contains(err.Error(), "no such table: customer_spend") {
		t.Errorf("no table: %v", err)
	}
}

// A row whose numbers are not integers is refused, not misread.
func TestMeasureCustomersRefusesBadRows(t *testing.T) {
	d1, dbID := spendStore(t, map[string]any{"month": "2026-11", "product": "ai-relay", "customer": "acme", "nanos": "lots", "calls": 1, "input_tokens": 1, "output_tokens": 1})
	_, err := MeasureCustomers(context.Background(), d1, nil, CustomerRequest{Month: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), AccountID: custAcct, DatabaseID: dbID})
	if err == nil || !strings.Contains(err.Error(), "ai-relay/acme: nanos") {
		t.Errorf("bad row: %v", err)
	}
}

func count(x *float64) string {
	if x == nil {
		return "-"
	}
	return strconv.FormatFloat(*x, 'f', -1, 64)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
