package cost

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// CustomerReport is `zerocost cost report --by customer`: what each customer
// of each product used in one calendar month (UTC), the basis of an
// invoice. The model calls, tokens and cost are exact: the spend store's
// rows (D1, table customer_spend), which the Workers' spend guard adds to
// on every model call. Requests and cache hits are sampled: Analytics
// Engine's model-usage data points of the customer, one per model call and
// one per edge-cache answer served without one (mode cache_hit), each
// standing for _sample_interval points.
type CustomerReport struct {
	// Kind is "customer_report".
	Kind string `json:"kind"`
	// Source is "stack <name>" or "zerocost dev (stack <name>)".
	Source string `json:"source"`
	// Month is YYYY-MM (UTC).
	Month string `json:"month"`
	// Exact and Sampled name the fields of each kind.
	Exact   []string        `json:"exact"`
	Sampled []string        `json:"sampled"`
	Rows    []CustomerUsage `json:"rows"`
	Total   CustomerUsage   `json:"total"`
	Notes   []string        `json:"notes,omitempty"`
}

// CustomerUsage is one customer's use of one product in the month (the
// report's total: product and customer empty).
type CustomerUsage struct {
	Product string `json:"product"`
	// Customer is "" for calls without a customer (a public product, and
	// Message Batches results).
	Customer string `json:"customer"`
	// Requests is sampled: the answers served, by a model call or by the
	// edge cache; nil when not measured (zerocost dev has no Analytics
	// Engine to read).
	Requests *float64 `json:"requests"`
	// CacheHits is sampled: the requests among them an edge cache answered
	// without a model call of their own (hits, and misses that shared
	// another request's call); nil when not measured.
	CacheHits    *float64 `json:"cache_hits"`
	ModelCalls   int64    `json:"model_calls"`
	InputTokens  int64    `json:"input_tokens"`
	OutputTokens int64    `json:"output_tokens"`
	// ModelCostUSD is exact: the spend store's nano-USD.
	ModelCostUSD Nanos `json:"model_cost_usd"`
}

// Fields of CustomerUsage by how they are measured.
var (
	CustomerExactFields   = []string{"model_calls", "input_tokens", "output_tokens", "model_cost_usd"}
	CustomerSampledFields = []string{"requests", "cache_hits"}
)

// Nanos is an amount in nano-USD (10^-9 USD), the spend store's unit: it
// prints as an exact decimal number of dollars, in JSON too.
type Nanos int64

// String prints the dollars with every significant decimal, at least two:
// 1.50, 0.004512345.
func (n Nanos) String() string {
	sign := ""
	u := uint64(n)
	if n < 0 {
		sign, u = "-", uint64(-n)
	}
	frac := strings.TrimRight(fmt.Sprintf("%09d", u%1e9), "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return sign + strconv.FormatUint(u/1e9, 10) + "." + frac
}

// MarshalJSON prints the exact decimal as a JSON number.
func (n Nanos) MarshalJSON() ([]byte, error) { return []byte(n.String()), nil }

// Sum adds the rows into the report's total (a sampled count only when
// every row has it).
func (r *CustomerReport) Sum() {
	t := CustomerUsage{}
	for _, u := range r.Rows {
		t.ModelCalls += u.ModelCalls
		t.InputTokens += u.InputTokens
		t.OutputTokens += u.OutputTokens
		t.ModelCostUSD += u.ModelCostUSD
	}
	t.Requests = sumSampled(r.Rows, func(u CustomerUsage) *float64 { return u.Requests })
	t.CacheHits = sumSampled(r.Rows, func(u CustomerUsage) *float64 { return u.CacheHits })
	r.Total = t
}

// sumSampled adds a sampled count of the rows: nil unless every row has it.
func sumSampled(rows []CustomerUsage, get func(CustomerUsage) *float64) *float64 {
	if len(rows) == 0 {
		return nil
	}
	sum := 0.0
	for _, u := range rows {
		x := get(u)
		if x == nil {
			return nil
		}
		sum += *x
	}
	return &sum
}

// customerWriters are WriteCustomers' formats, the default first.
var customerWriters = []writer[CustomerReport]{{"table", WriteCustomerTable}, {"json", WriteCustomerJSON}, {"csv", WriteCustomerCSV}}

// CustomerFormats WriteCustomers accepts.
var CustomerFormats = formatNames(customerWriters)

// WriteCustomers prints the report in a format: table, json or csv.
func WriteCustomers(w io.Writer, r *CustomerReport, format string) error {
	return writeAs(w, r, format, customerWriters)
}

// WriteCustomerJSON prints the report as indented JSON.
func WriteCustomerJSON(w io.Writer, r *CustomerReport) error {
	c := *r
	if c.Rows == nil {
		c.Rows = []CustomerUsage{}
	}
	return WriteIndentedJSON(w, &c)
}

// customerHeader is the CSV header, the columns of the table.
var customerHeader = []string{"product", "customer", "requests", "cache_hits", "model_calls", "input_tokens", "output_tokens", "model_cost_usd"}

// WriteCustomerCSV prints one line per row under a header (RFC 4180); a
// sampled field not measured is empty, amounts are exact decimals.
func WriteCustomerCSV(w io.Writer, r *CustomerReport) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(customerHeader); err != nil {
		return err
	}
	num := func(x *float64) string {
		if x == nil {
			return ""
		}
		return strconv.FormatFloat(*x, 'f', -1, 64)
	}
	for _, u := range r.Rows {
		if err := cw.Write([]string{u.Product, u.Customer, num(u.Requests), num(u.CacheHits), itoa(u.ModelCalls), itoa(u.InputTokens), itoa(u.OutputTokens), u.ModelCostUSD.String()}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// WriteCustomerTable prints the report for a terminal, then says which
// figures are exact and which sampled.
func WriteCustomerTable(w io.Writer, r *CustomerReport) error {
	fmt.Fprintf(w, "Usage per customer for %s, %s (UTC)\n\n", r.Source, r.Month)
	t := &textTable{right: []bool{false, false, true, true, true, true, true, true}}
	t.add("PRODUCT", "CUSTOMER", "REQUESTS*", "CACHE HITS*", "MODEL CALLS", "INPUT TOKENS", "OUTPUT TOKENS", "MODEL COST")
	row := func(product, customer string, u CustomerUsage) {
		t.add(product, customer, sampled(u.Requests), sampled(u.CacheHits), commas(itoa(u.ModelCalls)), commas(itoa(u.InputTokens)),
			commas(itoa(u.OutputTokens)), "$"+u.ModelCostUSD.String())
	}
	for _, u := range r.Rows {
		name := u.Customer
		if name == "" {
			name = "(none)"
		}
		row(u.Product, name, u)
	}
	row("TOTAL", "", r.Total)
	t.write(w, "")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exact: model calls, tokens and model cost (the spend store, D1 table customer_spend).")
	fmt.Fprintln(w, "* Sampled: requests and cache hits (Analytics Engine's data points, weighed by their _sample_interval).")
	for _, n := range r.Notes {
		fmt.Fprintln(w, n)
	}
	return nil
}

// sampled prints a sampled count, "n/a" when not measured.
func sampled(x *float64) string {
	if x == nil {
		return "n/a"
	}
	return count(*x)
}
