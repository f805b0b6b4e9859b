package cost

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/golden"
)

func ptr(x float64) *float64 { return &x }

// customerReport is a month of three customers of two products, one row
// without a customer (a public product's calls) and one without requests.
func customerReport() *CustomerReport {
	r := &CustomerReport{Kind: "customer_report", Source: "stack demo", Month: "2026-11",
		Exact: CustomerExactFields, Sampled: CustomerSampledFields,
		Rows: []CustomerUsage{
			{Product: "ai-relay", Customer: "acme", Requests: ptr(12040), CacheHits: ptr(40), ModelCalls: 12000, InputTokens: 4_800_000, OutputTokens: 1_200_000, ModelCostUSD: 8_400_000_000},
			{Product: "ai-relay", Customer: "globex", Requests: ptr(37), CacheHits: ptr(2), ModelCalls: 35, InputTokens: 14_000, OutputTokens: 3_500, ModelCostUSD: 24_500_001},
			{Product: "pipeline", Customer: "acme, inc. \"west\"", Requests: ptr(3), CacheHits: ptr(0), ModelCalls: 3, InputTokens: 900, OutputTokens: 300, ModelCostUSD: 1_200},
			{Product: "support", Customer: "", Requests: ptr(0), CacheHits: ptr(0), ModelCalls: 1, InputTokens: 10, OutputTokens: 2, ModelCostUSD: 0},
		},
		Notes: []string{"Requests count the answers served: a data point per model call and per cache hit."},
	}
	r.Sum()
	return r
}

func TestGoldenCustomerReport(t *testing.T) {
	for _, tc := range []struct{ format, file string }{
		{"table", "customers.txt"}, {"json", "customers.json"}, {"csv", "customers.csv"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteCustomers(&b, customerReport(), tc.format); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.file, b.Bytes())
		})
	}
	if err := WriteCustomers(&bytes.Buffer{}, customerReport(), "html"); err == nil || !strings.Contains(err.Error(), "table, json, csv") {
		t.Errorf("html: %v", err)
	}
}

// The total adds the rows exactly; a sampled count only when every row has it.
func TestCustomerReportSum(t *testing.T) {
	r := customerReport()
	if r.Total.ModelCalls != 12039 || r.Total.InputTokens != 4_814_910 || r.Total.ModelCostUSD != 8_424_501_201 || r.Total.Requests == nil || *r.Total.Requests != 12080 || r.Total.CacheHits == nil || *r.Total.CacheHits != 42 {
		t.Errorf("total %+v", r.Total)
	}
	r.Rows[1].Requests = nil
	r.Sum()
	if r.Total.Requests != nil || r.Total.CacheHits == nil || *r.Total.CacheHits != 42 {
		t.Errorf("total %+v, want no requests when a row has none, the cache hits all rows have", r.Total)
	}
	var b bytes.Buffer
	if err := WriteCustomerTable(&b, r); err != nil || !strings.Contains(b.String(), "n/a") {
		t.Errorf("table without requests:\n%s", b.String())
	}
}

// Amounts print as exact decimal dollars, in JSON as numbers; CSV and JSON
// read back to the same values.
func TestCustomerReportExactAmounts(t *testing.T) {
	for n, want := range map[Nanos]string{0: "0.00", 1: "0.000000001", 1_500_000_000: "1.50", 9_007_199_254_740_993: "9007199.254740993", -20: "-0.00000002"} {
		if got := n.String(); got != want {
			t.Errorf("%d nanos: %s, want %s", int64(n), got, want)
		}
	}
	var b bytes.Buffer
	if err := WriteCustomerJSON(&b, customerReport()); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Rows []struct {
			Cost json.Number `json:"model_cost_usd"`
		} `json:"rows"`
	}
	dec := json.NewDecoder(&b)
	dec.UseNumber()
	if err := dec.Decode(&back); err != nil || len(back.Rows) != 4 || back.Rows[1].Cost != "0.024500001" {
		t.Errorf("JSON back: %+v %v", back, err)
	}
	b.Reset()
	if err := WriteCustomerCSV(&b, customerReport()); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(recs) != 5 || recs[3][1] != `acme, inc. "west"` || recs[1][7] != "8.40" || recs[2][3] != "2" || strings.Join(recs[0], ",") != strings.Join(customerHeader, ",") {
		t.Errorf("CSV back: %q %v", recs, err)
	}
}
