package freeuse

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/cost/analytics"
	"github.com/zerocost/zerocost/internal/cost/analytics/analyticstest"
)

const (
	account = "0123456789abcdef0123456789abcdef"
	token   = "tok"
)

var demo = &Stack{Name: "demo", Products: []string{"ai-relay"}, Scripts: []string{"ai-relay-demo"}, Buckets: []string{"ai-relay-demo-outputs"},
	QueueIDs: []string{"q-email"}, D1IDs: []string{"d1-spend"}, ModelDataset: "zerocost_model_usage"}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func setup(t *testing.T) (*analyticstest.Fake, *analytics.Client, *cost.Prices) {
	t.Helper()
	f := analyticstest.New(t, account, token)
	p, err := cost.DefaultPrices()
	if err != nil {
		t.Fatal(err)
	}
	return f, &analytics.Client{BaseURL: f.URL, Token: token, AccountID: account, HTTP: http.DefaultClient, MaxRetries: 0}, p
}

func use(t *testing.T, s *Status, service, metric string) Use {
	t.Helper()
	for _, u := range s.Uses {
		if u.Service == service && u.Metric == metric {
			return u
		}
	}
	t.Fatalf("no use of %s %s in %+v", service, metric, s.Uses)
	return Use{}
}

func sum(k string, n float64) map[string]float64 { return map[string]float64{k: n} }

// seed writes a day's traffic: until 12:00 UTC, 30,000 Workers requests
// (20,000 of them the stack's), 6,000 queue operations (the stack's),
// KV writes of another app, D1 rows; R2 operations since the 1st; 2 GB
// stored; 400 model data points.
func seed(f *analyticstest.Fake) {
	f.Rows[analytics.WorkersDataset] = []analyticstest.Row{
		{At: at("2026-12-07T09:00:00Z"), Sum: sum("requests", 20000), Dimensions: map[string]string{"scriptName": "ai-relay-demo"}},
		{At: at("2026-12-07T10:00:00Z"), Sum: sum("requests", 10000), Dimensions: map[string]string{"scriptName": "other-app"}},
		{At: at("2026-12-06T10:00:00Z"), Sum: sum("requests", 99000), Dimensions: map[string]string{"scriptName": "other-app"}}, // yesterday
	}
	f.Rows[analytics.QueueOpsDataset] = []analyticstest.Row{{At: at("2026-12-07T11:00:00Z"), Sum: sum("billableOperations", 6000), Dimensions: map[string]string{"queueId": "q-email"}}}
	f.Rows["kvOperationsAdaptiveGroups"] = []analyticstest.Row{{At: at("2026-12-07T11:00:00Z"), Sum: sum("requests", 300), Dimensions: map[string]string{"namespaceId": "other", "actionType": "write"}}}
	f.Rows[d1Dataset] = []analyticstest.Row{{At: at("2026-12-07T11:00:00Z"), Sum: map[string]float64{"rowsRead": 1000, "rowsWritten": 500}, Dimensions: map[string]string{"databaseId": "d1-spend"}}}
	f.Rows[analytics.R2OpsDataset] = []analyticstest.Row{
		{At: at("2026-12-03T11:00:00Z"), Sum: sum("requests", 300000), Dimensions: map[string]string{"bucketName": "ai-relay-demo-outputs", "actionType": "PutObject"}},
		{At: at("2026-11-30T11:00:00Z"), Sum: sum("requests", 900000), Dimensions: map[string]string{"bucketName": "ai-relay-demo-outputs", "actionType": "PutObject"}},  // last month
		{At: at("2026-12-05T11:00:00Z"), Sum: sum("requests", 5000), Dimensions: map[string]string{"bucketName": "ai-relay-demo-outputs", "actionType": "DeleteObject"}}, // free
	}
	f.Rows[analytics.R2StorageDataset] = []analyticstest.Row{{At: at("2026-12-07T06:00:00Z"), Max: map[string]float64{"payloadSize": 2e9, "metadataSize": 0}, Dimensions: map[string]string{"bucketName": "ai-relay-demo-outputs"}}}
	f.Points[at("2026-12-07T08:00:00Z")] = 400
}

func TestStatusShowsEachLimit(t *testing.T) {
	f, c, p := setup(t)
	seed(f)
	s := Read(context.Background(), c, p, Request{Stack: demo, Now: at("2026-12-07T12:00:00Z")})
	w := use(t, s, cost.Workers, cost.Requests)
	// 30,000 in 12 hours: 100,000 at 40:00, past the day: it lasts.
	if *w.Account != 30000 || *w.Stack != 20000 || w.Limit != 100000 || *w.Used != 0.3 || w.RunsOut != nil || w.Reached {
		t.Errorf("workers %+v", w)
	}
	// 6,000 queue operations in 12 hours: 10,000 at 20:00 UTC.
	q := use(t, s, cost.Queues, cost.Operations)
	if *q.Account != 6000 || q.RunsOut == nil || !q.RunsOut.Equal(at("2026-12-07T20:00:00Z")) {
		t.Errorf("queues %+v", q)
	}
	if kv := use(t, s, cost.KV, cost.Writes); *kv.Account != 300 || *kv.Stack != 0 || kv.Limit != 1000 {
		t.Errorf("kv writes %+v", kv)
	}
	if d1 := use(t, s, cost.D1, cost.RowsWritten); *d1.Account != 500 || *d1.Stack != 500 {
		t.Errorf("d1 %+v", d1)
	}
	// Analytics Engine: the account's total is unknown, the stack's 400 a lower bound.
	ae := use(t, s, cost.Analytics, cost.DataPoints)
	if ae.Account != nil || *ae.Stack != 400 || !ae.LowerBound || *ae.Used != 0.004 || !strings.Contains(ae.AccountError, "lower bound") {
		t.Errorf("analytics engine %+v", ae)
	}
	// R2 Class A this month: 300,000 by the 7th at noon, 1M by about the 23rd.
	ra := use(t, s, cost.R2, cost.ClassA)
	if *ra.Account != 300000 || ra.Kind != Monthly || ra.RunsOut == nil || ra.RunsOut.Day() != 22 {
		t.Errorf("r2 class A %+v", ra)
	}
	if st := use(t, s, cost.R2, cost.Storage); *st.Account != 2 || st.Limit != 10 {
		t.Errorf("r2 storage %+v", st)
	}
	var b strings.Builder
	if err := WriteStatus(&b, s, "table"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Workers requests (today)", "30,000", "100,000/day", "~20:00 UTC", ">=0%", "R2 Class A operations (month to date)", "~Dec 22"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// A failed read is unknown, never zero, and says why.
func TestFailedReadIsUnknown(t *testing.T) {
	f, c, p := setup(t)
	seed(f)
	f.Fail[analytics.QueueOpsDataset] = http.StatusInternalServerError
	f.Fail["sql"] = http.StatusInternalServerError
	s := Read(context.Background(), c, p, Request{Stack: demo, Now: at("2026-12-07T12:00:00Z"), Threshold: 1, Every: time.Hour})
	q := use(t, s, cost.Queues, cost.Operations)
	if q.Account != nil || q.Stack != nil || q.Used != nil || q.Crossed || !strings.Contains(q.AccountError, "HTTP 500") {
		t.Errorf("queues %+v", q)
	}
	if ae := use(t, s, cost.Analytics, cost.DataPoints); ae.Stack != nil || ae.Used != nil || ae.StackError == "" {
		t.Errorf("analytics engine %+v", ae)
	}
	if w := use(t, s, cost.Workers, cost.Requests); w.Account == nil || *w.Account != 30000 {
		t.Errorf("workers %+v", w)
	}
	var b strings.Builder
	_ = WriteStatus(&b, s, "table")
	if !strings.Contains(b.String(), "Queues operations: account unknown:") || strings.Contains(b.String(), "Queues operations (today)  0") {
		t.Errorf("table:\n%s", b.String())
	}
}

// A day whose Workers requests pass 80% at 15:30: runs every hour, each
// alerting for the crossings of its window, alert once in all.
func TestAlertFiresOnceAcrossRuns(t *testing.T) {
	f, c, p := setup(t)
	for h := 0; h < 24; h++ {
		f.Rows[analytics.WorkersDataset] = append(f.Rows[analytics.WorkersDataset], analyticstest.Row{
			At: at("2026-12-07T00:30:00Z").Add(time.Duration(h) * time.Hour), Sum: sum("requests", 5200), Dimensions: map[string]string{"scriptName": "ai-relay-demo"}})
	}
	// 5,200 an hour: 78,000 after 15 hours, 83,200 after the row at 15:30.
	// Queue operations pass 80% at 23:55, in the window the 01:00 run reads
	// (its part before midnight counts toward the 7th).
	f.Rows[analytics.QueueOpsDataset] = []analyticstest.Row{
		{At: at("2026-12-07T10:00:00Z"), Sum: sum("billableOperations", 7000), Dimensions: map[string]string{"queueId": "q-email"}},
		{At: at("2026-12-07T23:55:00Z"), Sum: sum("billableOperations", 1500), Dimensions: map[string]string{"queueId": "q-email"}},
	}
	var alerts []string
	for run := at("2026-12-07T01:00:00Z"); !run.After(at("2026-12-08T02:00:00Z")); run = run.Add(time.Hour) {
		s := Read(context.Background(), c, p, Request{Stack: demo, Now: run, Threshold: 80, Every: time.Hour, Settle: 10 * time.Minute})
		if a := s.Alerts(); a != nil {
			alerts = append(alerts, run.Format(time.RFC3339)+": "+a.Text)
		}
	}
	if len(alerts) != 2 || !strings.HasPrefix(alerts[0], "2026-12-07T16:00:00Z: zerocost: account "+account+" (stack demo) passed 80% of Workers Free limits: Workers requests on 2026-12-07 (now 83% of 100,000/day)") ||
		!strings.HasPrefix(alerts[1], "2026-12-08T01:00:00Z: ") || !strings.Contains(alerts[1], "Queues operations on 2026-12-07 (now 0% of 10,000/day)") {
		t.Errorf("alerts %q, want Workers requests at the 16:00 run and Queues operations at 01:00", alerts)
	}
}
