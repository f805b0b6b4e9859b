package freeuse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/cost/analytics"
)

// Stack names what a stack owns, to tell its share of the account's use.
type Stack struct {
	Name     string
	Products []string // product names: the model data points' index
	Scripts  []string
	Buckets  []string
	QueueIDs []string
	D1IDs    []string
	// KVNamespaces is empty: zerocost's Workers bind no KV namespace, so
	// the stack's share of KV is none.
	KVNamespaces []string
	// ModelDataset is the Analytics Engine dataset of the model calls.
	ModelDataset string
}

// Amounts are one read's sums per meter, for the account and for the stack.
type Amounts struct {
	Account map[cost.Meter]float64
	Stack   map[cost.Meter]float64
	// Failed holds the error of each meter whose account total could not
	// be read, StackFailed of each whose stack share could not.
	Failed      map[cost.Meter]error
	StackFailed map[cost.Meter]error
}

// dataset is one GraphQL Analytics dataset: the fields it reads and how a
// row counts toward a meter of the stack.
type dataset struct {
	name   string
	fields string
	meters []cost.Meter
	// count says what a row adds to which meter, and the resource it is of.
	count func(r row) (m cost.Meter, n float64, resource string)
	// stack lists the stack's resources of the dataset.
	stack func(s *Stack) []string
}

type row struct {
	Sum struct {
		Requests           float64 `json:"requests"`
		BillableOperations float64 `json:"billableOperations"`
		RowsRead           float64 `json:"rowsRead"`
		RowsWritten        float64 `json:"rowsWritten"`
	} `json:"sum"`
	Max struct {
		PayloadSize  float64 `json:"payloadSize"`
		MetadataSize float64 `json:"metadataSize"`
	} `json:"max"`
	Dimensions struct {
		ScriptName  string `json:"scriptName"`
		QueueID     string `json:"queueId"`
		DatabaseID  string `json:"databaseId"`
		NamespaceID string `json:"namespaceId"`
		ActionType  string `json:"actionType"`
		BucketName  string `json:"bucketName"`
	} `json:"dimensions"`
}

// KV's actionType values and the meters they count on.
var kvActions = map[string]string{"read": cost.Reads, "write": cost.Writes, "delete": cost.Deletes, "list": cost.Lists}

// Datasets of the daily limits (FACTS: the GraphQL Analytics datasets;
// D1's from developers.cloudflare.com/d1/observability/metrics-analytics).
var daily = []dataset{
	{analytics.WorkersDataset, "sum { requests }\n        dimensions { scriptName }", []cost.Meter{{Service: cost.Workers, Metric: cost.Requests}},
		func(r row) (cost.Meter, float64, string) {
			return cost.Meter{Service: cost.Workers, Metric: cost.Requests}, r.Sum.Requests, r.Dimensions.ScriptName
		}, func(s *Stack) []string { return s.Scripts }},
	{analytics.QueueOpsDataset, "sum { billableOperations }\n        dimensions { queueId }", []cost.Meter{{Service: cost.Queues, Metric: cost.Operations}},
		func(r row) (cost.Meter, float64, string) {
			return cost.Meter{Service: cost.Queues, Metric: cost.Operations}, r.Sum.BillableOperations, r.Dimensions.QueueID
		}, func(s *Stack) []string { return s.QueueIDs }},
	{"kvOperationsAdaptiveGroups", "sum { requests }\n        dimensions { namespaceId actionType }",
		[]cost.Meter{{Service: cost.KV, Metric: cost.Reads}, {Service: cost.KV, Metric: cost.Writes}, {Service: cost.KV, Metric: cost.Deletes}, {Service: cost.KV, Metric: cost.Lists}},
		func(r row) (cost.Meter, float64, string) {
			return cost.Meter{Service: cost.KV, Metric: kvActions[r.Dimensions.ActionType]}, r.Sum.Requests, r.Dimensions.NamespaceID
		}, func(s *Stack) []string { return s.KVNamespaces }},
}

// d1Dataset counts two meters per row: it is read apart.
const d1Dataset = "d1AnalyticsAdaptiveGroups"

// Datasets of R2's monthly allowances.
var monthly = []dataset{
	{analytics.R2OpsDataset, "sum { requests }\n        dimensions { bucketName actionType }",
		[]cost.Meter{{Service: cost.R2, Metric: cost.ClassA}, {Service: cost.R2, Metric: cost.ClassB}},
		func(r row) (cost.Meter, float64, string) {
			return cost.Meter{Service: cost.R2, Metric: analytics.R2Class(r.Dimensions.ActionType)}, r.Sum.Requests, r.Dimensions.BucketName
		}, func(s *Stack) []string { return s.Buckets }},
}

func rows(ctx context.Context, c *analytics.Client, ds, fields string, start, end time.Time) ([]row, error) {
	return analytics.Rows[row](ctx, c, ds, analytics.Query(ds, "", fields), map[string]any{"start": start.UTC().Format(time.RFC3339), "end": end.UTC().Format(time.RFC3339)})
}

func newAmounts() *Amounts {
	return &Amounts{Account: map[cost.Meter]float64{}, Stack: map[cost.Meter]float64{}, Failed: map[cost.Meter]error{}, StackFailed: map[cost.Meter]error{}}
}

// readSets sums each dataset's rows from start to end; a dataset that
// fails marks its meters failed, never zero.
func (a *Amounts) readSets(ctx context.Context, c *analytics.Client, sets []dataset, s *Stack, start, end time.Time) {
	for _, ds := range sets {
		rs, err := rows(ctx, c, ds.name, ds.fields, start, end)
		if err != nil {
			for _, m := range ds.meters {
				a.Failed[m], a.StackFailed[m] = err, err
			}
			continue
		}
		mine := ds.stack(s)
		for _, m := range ds.meters {
			a.Account[m], a.Stack[m] = 0, 0
		}
		for _, r := range rs {
			m, n, res := ds.count(r)
			if m.Metric == "" {
				continue
			}
			a.Account[m] += n
			if slices.Contains(mine, res) {
				a.Stack[m] += n
			}
		}
	}
}

var d1Meters = []cost.Meter{{Service: cost.D1, Metric: cost.RowsRead}, {Service: cost.D1, Metric: cost.RowsWritten}}

func (a *Amounts) readD1(ctx context.Context, c *analytics.Client, s *Stack, start, end time.Time) {
	rs, err := rows(ctx, c, d1Dataset, "sum { rowsRead rowsWritten }\n        dimensions { databaseId }", start, end)
	if err != nil {
		for _, m := range d1Meters {
			a.Failed[m], a.StackFailed[m] = err, err
		}
		return
	}
	for _, m := range d1Meters {
		a.Account[m], a.Stack[m] = 0, 0
	}
	for _, r := range rs {
		a.Account[d1Meters[0]] += r.Sum.RowsRead
		a.Account[d1Meters[1]] += r.Sum.RowsWritten
		if slices.Contains(s.D1IDs, r.Dimensions.DatabaseID) {
			a.Stack[d1Meters[0]] += r.Sum.RowsRead
			a.Stack[d1Meters[1]] += r.Sum.RowsWritten
		}
	}
}

// r2Storage is the meter of what R2 stores.
var r2Storage = cost.Meter{Service: cost.R2, Metric: cost.Storage}

// readStorage reads what the account's buckets store now, in GB: each
// bucket's largest sample of the last day.
func (a *Amounts) readStorage(ctx context.Context, c *analytics.Client, s *Stack, now time.Time) {
	rs, err := rows(ctx, c, analytics.R2StorageDataset, "max { payloadSize metadataSize }\n        dimensions { bucketName }", now.Add(-24*time.Hour), now)
	if err != nil {
		a.Failed[r2Storage], a.StackFailed[r2Storage] = err, err
		return
	}
	per := map[string]float64{}
	for _, r := range rs {
		per[r.Dimensions.BucketName] = max(per[r.Dimensions.BucketName], r.Max.PayloadSize+r.Max.MetadataSize)
	}
	a.Account[r2Storage], a.Stack[r2Storage] = 0, 0
	for b, n := range per {
		a.Account[r2Storage] += n / 1e9
		if slices.Contains(s.Buckets, b) {
			a.Stack[r2Storage] += n / 1e9
		}
	}
}

// aePoints is the meter of Analytics Engine's data points.
var aePoints = cost.Meter{Service: cost.Analytics, Metric: cost.DataPoints}

// readPoints counts the stack's model data points with the SQL API. No
// GraphQL dataset counts an account's Analytics Engine writes, so the
// account's total is left unknown: the stack's points are a lower bound.
func (a *Amounts) readPoints(ctx context.Context, c *analytics.Client, s *Stack, start, end time.Time) {
	a.Failed[aePoints] = ErrNoAccountPoints
	if len(s.Products) == 0 {
		return
	}
	quoted := make([]string, len(s.Products))
	for i, p := range s.Products {
		quoted[i] = "'" + strings.ReplaceAll(strings.ReplaceAll(p, `\`, `\\`), `'`, `\'`) + "'"
	}
	q := fmt.Sprintf("SELECT SUM(_sample_interval) AS points FROM %s WHERE timestamp >= toDateTime('%s') AND timestamp < toDateTime('%s') AND %s IN (%s) FORMAT JSON",
		s.ModelDataset, start.UTC().Format(time.DateTime), end.UTC().Format(time.DateTime), contract.ModelUsagePoint.IndexColumn(contract.FieldProduct), strings.Join(quoted, ", "))
	res, err := c.SQL(ctx, q)
	if err != nil {
		a.StackFailed[aePoints] = err
		return
	}
	a.Stack[aePoints] = 0
	for _, r := range res.Data {
		n, err := analytics.Number(r["points"])
		if err != nil {
			delete(a.Stack, aePoints)
			a.StackFailed[aePoints] = fmt.Errorf("%s: points: %w", analytics.SQLWhat, err)
			return
		}
		a.Stack[aePoints] += n
	}
}

// ErrNoAccountPoints says why the account's Analytics Engine points are unknown.
var ErrNoAccountPoints = errors.New("no GraphQL dataset counts the account's Analytics Engine writes: the stack's own points are a lower bound")
