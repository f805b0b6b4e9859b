// Package analyticstest is a stand-in for Cloudflare's analytics APIs with
// seeded, timestamped data: /graphql answers a dataset's rows within the
// query's datetime_geq..datetime_lt window in the documented shape
// ({"data":{"viewer":{"accounts":[{dataset: [rows]}]}},"errors":null}), and
// the Analytics Engine SQL API answers the sum of the seeded data points
// within the query's timestamp window.
package analyticstest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/contract"
)

// Row is one seeded group of a dataset at a time: its sum (or max) fields
// and dimensions, as Cloudflare answers them.
type Row struct {
	At         time.Time
	Sum        map[string]float64
	Max        map[string]float64
	Dimensions map[string]string
}

// CustomerPoint is a data point of a product's customer at a time; Weight
// is its _sample_interval (Analytics Engine's sampling), Mode its mode blob
// ("": a model call's point before the field existed).
type CustomerPoint struct {
	At                      time.Time
	Product, Customer, Mode string
	Weight                  float64
}

// Fake is the server. Seed it before the first request.
type Fake struct {
	URL string // the API base, …/client/v4
	// Rows are each dataset's seeded groups.
	Rows map[string][]Row
	// Points are the Analytics Engine data points written, by time.
	Points map[time.Time]float64
	// CustomerPoints are model-usage data points of customers: the SQL API
	// answers a query grouped by customer (… AS customer) with their
	// weights summed per product and customer.
	CustomerPoints []CustomerPoint
	// Fail makes a dataset (or "sql") answer with this HTTP status.
	Fail map[string]int

	mu       sync.Mutex
	requests int
}

var (
	datasetInQuery = regexp.MustCompile(`accounts\(filter: \{accountTag: \$accountTag\}\) \{\s+(\w+)\(`)
	sqlWindow      = regexp.MustCompile(`timestamp >= toDateTime\('([^']+)'\) AND timestamp < toDateTime\('([^']+)'\)`)
	sqlProducts    = regexp.MustCompile(`IN \(([^)]*)\)`)
	// sqlSumIf is a conditional sum of the sample intervals on a blob's value.
	sqlSumIf = regexp.MustCompile(`sumIf\(_sample_interval, (\w+) = '([^']*)'\) AS (\w+)`)
)

// New starts a fake for the account, answering the token.
func New(t *testing.T, account, token string) *Fake {
	f := &Fake{Rows: map[string][]Row{}, Points: map[time.Time]float64{}, Fail: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests++
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/client/v4/graphql":
			f.graphql(t, w, body)
		case "/client/v4/accounts/" + account + "/analytics_engine/sql":
			f.sql(t, w, string(body))
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL + "/client/v4"
	return f
}

// Requests counts the requests served.
func (f *Fake) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

func (f *Fake) failed(w http.ResponseWriter, what string) bool {
	status, ok := f.Fail[what]
	if !ok {
		return false
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"success":false,"errors":[{"code":%d,"message":"seeded failure of %s"}]}`, status, what)
	return true
}

func (f *Fake) graphql(t *testing.T, w http.ResponseWriter, body []byte) {
	var q struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.Unmarshal(body, &q); err != nil {
		t.Errorf("graphql body: %v", err)
		return
	}
	m := datasetInQuery.FindStringSubmatch(q.Query)
	if m == nil {
		t.Errorf("query not in the documented shape:\n%s", q.Query)
		return
	}
	if f.failed(w, m[1]) {
		return
	}
	start, err1 := time.Parse(time.RFC3339, fmt.Sprint(q.Variables["start"]))
	end, err2 := time.Parse(time.RFC3339, fmt.Sprint(q.Variables["end"]))
	if err1 != nil || err2 != nil {
		t.Errorf("%s: start %v, end %v are not RFC 3339 times", m[1], q.Variables["start"], q.Variables["end"])
	}
	out := []map[string]any{}
	for _, r := range f.Rows[m[1]] {
		if !r.At.Before(start) && r.At.Before(end) {
			row := map[string]any{"dimensions": r.Dimensions}
			if r.Sum != nil {
				row["sum"] = r.Sum
			}
			if r.Max != nil {
				row["max"] = r.Max
			}
			out = append(out, row)
		}
	}
	rows, _ := json.Marshal(out)
	fmt.Fprintf(w, `{"data":{"viewer":{"accounts":[{%q:%s}]}},"errors":null}`, m[1], rows)
}

func (f *Fake) sql(t *testing.T, w http.ResponseWriter, query string) {
	if f.failed(w, "sql") {
		return
	}
	m := sqlWindow.FindStringSubmatch(query)
	if m == nil {
		t.Errorf("SQL without a timestamp window:\n%s", query)
		return
	}
	start, _ := time.Parse(time.DateTime, m[1])
	end, _ := time.Parse(time.DateTime, m[2])
	if strings.Contains(query, " AS customer") {
		f.customers(t, w, query, start, end)
		return
	}
	sum := 0.0
	for at, n := range f.Points {
		if !at.Before(start) && at.Before(end) {
			sum += n
		}
	}
	fmt.Fprintf(w, `{"meta":[{"name":"points","type":"Float64"}],"data":[{"points":%v}],"rows":1}`, sum)
}

// customers answers a query grouped by product and customer: the weights
// of the customer points in the window whose product the IN list names, as
// requests, and each sumIf on the mode column (the layout's) of the points
// whose mode matches.
func (f *Fake) customers(t *testing.T, w http.ResponseWriter, query string, start, end time.Time) {
	named := map[string]bool{}
	if m := sqlProducts.FindStringSubmatch(query); m != nil {
		for _, q := range strings.Split(m[1], ",") {
			named[strings.Trim(strings.TrimSpace(q), "'")] = true
		}
	}
	conds := sqlSumIf.FindAllStringSubmatch(query, -1)
	meta := []map[string]string{{"name": "product", "type": "String"}, {"name": "customer", "type": "String"}, {"name": "requests", "type": "Float64"}}
	for _, c := range conds {
		if c[1] != contract.ModelUsagePoint.Column(contract.FieldMode) {
			t.Errorf("sumIf on %s, not the mode column %s:\n%s", c[1], contract.ModelUsagePoint.Column(contract.FieldMode), query)
		}
		meta = append(meta, map[string]string{"name": c[3], "type": "Float64"})
	}
	sums := map[[2]string]map[string]float64{}
	for _, p := range f.CustomerPoints {
		if !named[p.Product] || p.At.Before(start) || !p.At.Before(end) {
			continue
		}
		k := [2]string{p.Product, p.Customer}
		if sums[k] == nil {
			sums[k] = map[string]float64{"requests": 0}
			for _, c := range conds {
				sums[k][c[3]] = 0
			}
		}
		sums[k]["requests"] += p.Weight
		for _, c := range conds {
			if p.Mode == c[2] {
				sums[k][c[3]] += p.Weight
			}
		}
	}
	data := []map[string]any{}
	for k, cols := range sums {
		row := map[string]any{"product": k[0], "customer": k[1]}
		for name, n := range cols {
			row[name] = n
		}
		data = append(data, row)
	}
	sort.Slice(data, func(i, j int) bool { return fmt.Sprint(data[i]) < fmt.Sprint(data[j]) })
	out, _ := json.Marshal(map[string]any{"meta": meta, "data": data, "rows": len(data)})
	_, _ = w.Write(out)
}
