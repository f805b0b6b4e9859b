package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cost"
)

const (
	account = "0123456789abcdef0123456789abcdef"
	token   = "test-token"
)

// fake is a Cloudflare API stand-in: /graphql answers the dataset the query
// names, /accounts/{id}/analytics_engine/sql answers the SQL. Handlers may be
// replaced per test.
type fake struct {
	t        *testing.T
	datasets map[string]string // dataset -> the rows (JSON) it answers
	sql      string            // the SQL API's answer
	// seen records each request's dataset (or "sql") and variables.
	seen    []string
	vars    map[string]map[string]any
	sqlBody string
	// override answers everything when set.
	override http.HandlerFunc
}

var datasetInQuery = regexp.MustCompile(`accounts\(filter: \{accountTag: \$accountTag\}\) \{\s+(\w+)\(`)

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.override != nil {
		f.override(w, r)
		return
	}
	f.serve(w, r)
}

// serve answers as Cloudflare would, from the fake's datasets and SQL answer.
func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer "+token {
		f.t.Errorf("%s %s with Authorization %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
	}
	body, _ := io.ReadAll(r.Body)
	switch r.URL.Path {
	case "/client/v4/graphql":
		var q struct {
			Query     string         `json:"query"`
			Variables map[string]any `json:"variables"`
		}
		if err := json.Unmarshal(body, &q); err != nil {
			f.t.Fatalf("graphql body: %v", err)
		}
		m := datasetInQuery.FindStringSubmatch(q.Query)
		if m == nil {
			f.t.Fatalf("query not in the documented shape:\n%s", q.Query)
		}
		ds := m[1]
		f.seen = append(f.seen, ds)
		f.vars[ds] = q.Variables
		if q.Variables["accountTag"] != account {
			f.t.Errorf("%s: accountTag %v", ds, q.Variables["accountTag"])
		}
		rows, ok := f.datasets[ds]
		if !ok {
			rows = "[]"
		}
		fmt.Fprintf(w, `{"data":{"viewer":{"accounts":[{%q:%s}]}},"errors":null}`, ds, rows)
	case "/client/v4/accounts/" + account + "/analytics_engine/sql":
		f.seen = append(f.seen, "sql")
		f.sqlBody = string(body)
		fmt.Fprint(w, f.sql)
	default:
		f.t.Errorf("unexpected path %s", r.URL.Path)
		http.NotFound(w, r)
	}
}

func newFake(t *testing.T) (*fake, *Client) {
	f := &fake{t: t, vars: map[string]map[string]any{}, datasets: map[string]string{}, sql: `{"meta":[],"data":[],"rows":0}`}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, &Client{BaseURL: srv.URL + "/client/v4", Token: token, AccountID: account, HTTP: srv.Client()}
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

var demoReq = Request{
	Since: day("2026-11-01"), Until: day("2026-11-03"),
	Products: []Product{
		{Name: "relay", Pattern: cost.EdgeCache, Script: "relay-demo", Buckets: []string{"relay-demo-outputs"}},
		{Name: "mail", Pattern: cost.AsyncPipeline, Script: "mail-demo", Buckets: []string{"mail-demo-outputs"}, QueueIDs: []string{"q-main", "q-dlq"}},
	},
}

func TestMeasure(t *testing.T) {
	f, c := newFake(t)
	f.datasets[WorkersDataset] = `[
	  {"sum":{"requests":600,"errors":1,"subrequests":9},"quantiles":{"cpuTimeP50":2000,"cpuTimeP99":12500},"dimensions":{"date":"2026-11-01","scriptName":"relay-demo"}},
	  {"sum":{"requests":400,"errors":0,"subrequests":5},"quantiles":{"cpuTimeP50":1000,"cpuTimeP99":4000},"dimensions":{"date":"2026-11-02","scriptName":"relay-demo"}},
	  {"sum":{"requests":50,"errors":0,"subrequests":50},"quantiles":{"cpuTimeP50":3000,"cpuTimeP99":5000},"dimensions":{"date":"2026-11-03","scriptName":"mail-demo"}},
	  {"sum":{"requests":99,"errors":0,"subrequests":0},"quantiles":{"cpuTimeP50":1,"cpuTimeP99":1},"dimensions":{"date":"2026-11-03","scriptName":"someone-else"}}]`
	f.datasets[R2OpsDataset] = `[
	  {"sum":{"requests":20},"dimensions":{"bucketName":"mail-demo-outputs","actionType":"PutObject"}},
	  {"sum":{"requests":40},"dimensions":{"bucketName":"mail-demo-outputs","actionType":"HeadObject"}},
	  {"sum":{"requests":5},"dimensions":{"bucketName":"mail-demo-outputs","actionType":"GetObject"}},
	  {"sum":{"requests":9},"dimensions":{"bucketName":"mail-demo-outputs","actionType":"DeleteObject"}},
	  {"sum":{"requests":3},"dimensions":{"bucketName":"mail-demo-outputs","actionType":"ListObjects"}}]`
	f.datasets[R2StorageDataset] = `[
	  {"max":{"payloadSize":1000000000,"metadataSize":0,"objectCount":5},"dimensions":{"bucketName":"mail-demo-outputs","datetime":"2026-11-01T00:00:00Z"}},
	  {"max":{"payloadSize":2000000000,"metadataSize":0,"objectCount":9},"dimensions":{"bucketName":"mail-demo-outputs","datetime":"2026-11-02T00:00:00Z"}}]`
	f.datasets[QueueOpsDataset] = `[
	  {"sum":{"billableOperations":10000,"bytes":1000},"dimensions":{"date":"2026-11-02","queueId":"q-main","actionType":"ReadMessage","outcome":"success"}},
	  {"sum":{"billableOperations":60,"bytes":1000},"dimensions":{"date":"2026-11-03","queueId":"q-main","actionType":"WriteMessage","outcome":""}},
	  {"sum":{"billableOperations":4,"bytes":100},"dimensions":{"date":"2026-11-03","queueId":"q-dlq","actionType":"WriteMessage","outcome":""}},
	  {"sum":{"billableOperations":1000,"bytes":1},"dimensions":{"date":"2026-11-03","queueId":"not-ours","actionType":"WriteMessage","outcome":""}}]`
	f.sql = `{"meta":[{"name":"product","type":"String"},{"name":"model","type":"String"},{"name":"calls","type":"UInt64"}],
	  "data":[
	    {"product":"mail","model":"claude-haiku-4-5","calls":"20","input_tokens":12000,"output_tokens":8000,"cache_read_tokens":0,"cache_write_tokens":0},
	    {"product":"relay","model":"claude-haiku-4-5","calls":250,"input_tokens":100000,"output_tokens":25000,"cache_read_tokens":5000,"cache_write_tokens":"1000"},
	    {"product":"relay","model":"claude-haiku-4-5","mode":"cache_hit","calls":700,"input_tokens":0,"output_tokens":0,"cache_read_tokens":0,"cache_write_tokens":0}],
	  "rows":3,"rows_before_limit_at_least":3}`

	u, notes, err := Measure(context.Background(), c, demoReq)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) == 0 {
		t.Error("no notes")
	}
	if strings.Join(f.seen, ",") != "workersInvocationsAdaptive,r2OperationsAdaptiveGroups,r2StorageAdaptiveGroups,queueMessageOperationsAdaptiveGroups,sql" {
		t.Errorf("requests: %v", f.seen)
	}
	// Filters: the stack's scripts, namespaces, buckets and queues, and the period.
	if v := f.vars[WorkersDataset]; fmt.Sprint(v["scripts"]) != "[relay-demo mail-demo]" || v["start"] != "2026-11-01T00:00:00Z" || v["end"] != "2026-11-04T00:00:00Z" {
		t.Errorf("workers variables %v", v)
	}
	if v := f.vars[QueueOpsDataset]; fmt.Sprint(v["queues"]) != "[q-main q-dlq]" {
		t.Errorf("queue variables %v", v)
	}
	if v := f.vars[R2OpsDataset]; fmt.Sprint(v["buckets"]) != "[relay-demo-outputs mail-demo-outputs]" {
		t.Errorf("r2 variables %v", v)
	}
	for _, s := range []string{"SUM(_sample_interval * double1) AS input_tokens", "SUM(_sample_interval * double4) AS cache_write_tokens",
		"FROM zerocost_model_usage", "timestamp >= toDateTime('2026-11-01 00:00:00') AND timestamp < toDateTime('2026-11-04 00:00:00')", "index1 IN ('relay', 'mail')", "GROUP BY product, model, mode"} {
		if !strings.Contains(f.sqlBody, s) {
			t.Errorf("SQL does not say %q:\n%s", s, f.sqlBody)
		}
	}

	if u.Days != 3 || strings.Join(u.Dates, ",") != "2026-11-01,2026-11-02,2026-11-03" {
		t.Errorf("days %d %v", u.Days, u.Dates)
	}
	relay, mail := u.Products[0], u.Products[1]
	q := func(pu cost.ProductUsage, s, m string) float64 {
		return pu.Quantities[cost.Meter{Service: s, Metric: m}]
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"relay requests", q(relay, cost.Workers, cost.Requests), 1000},
		{"relay Requests", relay.Requests, 1000},
		{"relay CPU-ms (requests x p50)", q(relay, cost.Workers, cost.CPUms), 600*2 + 400*1},
		{"relay CPU p99", relay.CPUmsPerInvocation, 12.5},
		{"relay data points (one per model call, one per cache hit)", q(relay, cost.Analytics, cost.DataPoints), 250 + 700},
		{"mail requests", q(mail, cost.Workers, cost.Requests), 50},
		{"mail R2 Class A (put, list)", q(mail, cost.R2, cost.ClassA), 23},
		{"mail R2 Class B (head, get)", q(mail, cost.R2, cost.ClassB), 45},
		{"mail R2 storage (1.5 GB average)", q(mail, cost.R2, cost.Storage), 1.5 * 3 / 30},
		{"mail queue operations", q(mail, cost.Queues, cost.Operations), 10064},
		{"mail queue operations on 2026-11-02", mail.Daily[cost.Meter{Service: cost.Queues, Metric: cost.Operations}][1], 10000},
		{"mail queue operations on 2026-11-03", mail.Daily[cost.Meter{Service: cost.Queues, Metric: cost.Operations}][2], 64},
	} {
		if d := c.got - c.want; d > 1e-12 || d < -1e-12 {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	if len(mail.Models) != 1 || mail.Models[0].Calls != 20 || mail.Models[0].InputTokens != 12000 {
		t.Errorf("mail models %+v", mail.Models)
	}
	// The cache-hit points are no model calls.
	if len(relay.Models) != 1 || relay.Models[0].Calls != 250 || relay.Models[0].CacheWriteTokens != 1000 || relay.Models[0].CacheReadTokens != 5000 {
		t.Errorf("relay models %+v", relay.Models)
	}
	// 250 model calls for 1,000 requests: a 75% hit rate.
	if relay.CacheHitRate == nil || *relay.CacheHitRate != 0.75 || relay.CacheHits != 750 || mail.CacheHitRate != nil {
		t.Errorf("hit rate %v, hits %v", relay.CacheHitRate, relay.CacheHits)
	}

	// Priced as a report: the measured queue operations reached the free limit on 2026-11-02.
	p, err := cost.DefaultPrices()
	if err != nil {
		t.Fatal(err)
	}
	r, err := cost.Estimate(u, p, cost.Free)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range r.Warnings {
		if strings.HasPrefix(w, "Queues operations: reached Workers Free's 10,000/day on 1 of 3 days (2026-11-02: 10,000; peak 10,000 on 2026-11-02)") {
			found = true
		}
	}
	if !found {
		t.Errorf("warnings %v", r.Warnings)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "Workers CPU: relay's invocations use about 12.5 ms") {
		t.Errorf("no CPU warning: %v", r.Warnings)
	}
}

func TestMeasureSkipsUnusedDatasets(t *testing.T) {
	f, c := newFake(t)
	req := Request{Since: day("2026-11-01"), Until: day("2026-11-01"), Products: []Product{{Name: "x", Pattern: cost.EventAgent, Script: "x-demo"}}}
	if _, _, err := Measure(context.Background(), c, req); err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.seen, ",") != "workersInvocationsAdaptive,sql" {
		t.Errorf("requests: %v", f.seen)
	}
}

// Errors name the dataset (or the SQL API) and say what Cloudflare said.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(f *fake) http.HandlerFunc
		want   []string
	}{
		{"bad token", func(*fake) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}`)
			}
		}, []string{"workersInvocationsAdaptive: Cloudflare answered HTTP 403: Authentication error (code 10000)", "CLOUDFLARE_API_TOKEN", "Account Analytics: Read"}},
		{"GraphQL errors with HTTP 200", func(f *fake) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(readQuery(r), "r2OperationsAdaptiveGroups") {
					fmt.Fprint(w, `{"data":null,"errors":[{"message":"cannot request data older than 31d","path":["viewer","accounts",0,"r2OperationsAdaptiveGroups"],"extensions":{"code":"bad_input"}}]}`)
					return
				}
				fmt.Fprint(w, `{"data":{"viewer":{"accounts":[{"workersInvocationsAdaptive":[]}]}}}`)
			}
		}, []string{"r2OperationsAdaptiveGroups: GraphQL error: cannot request data older than 31d (bad_input)"}},
		{"dataset missing from the answer", func(f *fake) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `{"data":{"viewer":{"accounts":[{"somethingElse":[]}]}},"errors":null}`)
			}
		}, []string{"workersInvocationsAdaptive: missing from the answer"}},
		{"no account", func(f *fake) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `{"data":{"viewer":{"accounts":[]}},"errors":null}`)
			}
		}, []string{"workersInvocationsAdaptive: the answer holds no account " + account}},
		{"not JSON", func(f *fake) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `<html>oops</html>`) }
		}, []string{"workersInvocationsAdaptive: the GraphQL answer is not JSON"}},
		{"SQL API error", sqlAnswers(http.StatusUnprocessableEntity, `unable to find type of column: double9`), []string{"Analytics Engine SQL API: Cloudflare answered HTTP 422: unable to find type of column: double9"}},
		{"SQL API envelope error", sqlAnswers(http.StatusBadRequest, `{"success":false,"errors":[{"code":7003,"message":"Could not route to /accounts/x/analytics_engine/sql"}]}`), []string{"Analytics Engine SQL API: Cloudflare answered HTTP 400: Could not route to /accounts/x/analytics_engine/sql (code 7003)"}},
		{"SQL answer without data", sqlAnswers(http.StatusOK, `{"meta":[],"rows":0}`), []string{"Analytics Engine SQL API: the answer has no data"}},
		{"SQL number that is not", sqlAnswers(http.StatusOK, `{"meta":[],"data":[{"product":"relay","model":"m","calls":"many"}],"rows":1}`), []string{`Analytics Engine SQL API: calls of relay/m: "many" is not a number`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c := newFake(t)
			f.override = tc.answer(f)
			_, _, err := Measure(context.Background(), c, demoReq)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

// sqlAnswers makes the fake answer the Analytics Engine SQL API with status
// and body, and the rest as usual.
func sqlAnswers(status int, body string) func(f *fake) http.HandlerFunc {
	return func(f *fake) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/analytics_engine/sql") {
				w.WriteHeader(status)
				fmt.Fprint(w, body)
				return
			}
			f.serve(w, r)
		}
	}
}

func readQuery(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func TestTokenQueryQuotes(t *testing.T) {
	q := TokenQuery("ds", []string{"a'b"}, day("2026-11-01"), day("2026-11-30"))
	if !strings.Contains(q, `index1 IN ('a\'b')`) || !strings.Contains(q, "toDateTime('2026-12-01 00:00:00')") {
		t.Errorf("query:\n%s", q)
	}
	_, c := newFake(t)
	_, _, err := Measure(context.Background(), c, Request{Since: day("2026-11-01"), Until: day("2026-11-01"), ModelDataset: "x; DROP", Products: []Product{{Name: "x", Script: "x"}}})
	if err == nil || !strings.Contains(err.Error(), "not an Analytics Engine dataset name") {
		t.Errorf("got %v", err)
	}
}

// A group that does not have the documented shape is an error naming the dataset.
func TestMalformedRowNamesTheDataset(t *testing.T) {
	f, c := newFake(t)
	f.datasets[WorkersDataset] = `[{"sum":{"requests":"many"},"dimensions":{"date":"2026-11-01","scriptName":"x-demo"}}]`
	req := Request{Since: day("2026-11-01"), Until: day("2026-11-01"), Products: []Product{{Name: "x", Pattern: cost.EventAgent, Script: "x-demo"}}}
	_, _, err := Measure(context.Background(), c, req)
	if err == nil || !strings.Contains(err.Error(), WorkersDataset+": row") {
		t.Fatalf("got %v", err)
	}
}
