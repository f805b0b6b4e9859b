package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/cost"
)

// Datasets of the GraphQL Analytics API that Measure reads.
const (
	WorkersDataset   = "workersInvocationsAdaptive"
	R2OpsDataset     = "r2OperationsAdaptiveGroups"
	R2StorageDataset = "r2StorageAdaptiveGroups"
	QueueOpsDataset  = "queueMessageOperationsAdaptiveGroups"
)

// DefaultModelDataset is the Analytics Engine dataset the Workers write one
// data point per model call to, laid out as contract.ModelUsagePoint says.
const DefaultModelDataset = contract.ModelUsageDataset

// Product is what Measure reads for one product: its Worker script and the
// ids and names of the resources it owns.
type Product struct {
	Name     string
	Pattern  string
	Script   string
	Buckets  []string
	QueueIDs []string
}

// Request is what to measure.
type Request struct {
	// Since and Until are the first and last day (UTC), inclusive.
	Since, Until time.Time
	Products     []Product
	// ModelDataset is the Analytics Engine dataset of the model calls.
	ModelDataset string
}

// Days is the number of days from Since to Until, inclusive.
func (r *Request) Days() int { return int(r.Until.Sub(r.Since).Hours()/24) + 1 }

// The queries of the usage, one a dataset.
var (
	workersQuery = Query(WorkersDataset, "scriptName_in: $scripts",
		"sum { requests errors subrequests }", "quantiles { cpuTimeP50 cpuTimeP99 }", "dimensions { date scriptName }")
	r2OpsQuery     = Query(R2OpsDataset, "bucketName_in: $buckets", "sum { requests }", "dimensions { bucketName actionType }")
	r2StorageQuery = Query(R2StorageDataset, "bucketName_in: $buckets",
		"max { payloadSize metadataSize objectCount }", "dimensions { bucketName datetime }")
	queueOpsQuery = Query(QueueOpsDataset, "queueId_in: $queues", "sum { billableOperations bytes }", "dimensions { date queueId actionType outcome }")
)

// R2 operation classes (https://developers.cloudflare.com/r2/pricing/).
// Deletes and aborted uploads are free; an action not listed counts as
// Class A, the dearer class.
var (
	r2ClassB = map[string]bool{"HeadBucket": true, "HeadObject": true, "GetObject": true, "UsageSummary": true,
		"GetBucketEncryption": true, "GetBucketLocation": true, "GetBucketCors": true, "GetBucketLifecycleConfiguration": true}
	r2Free = map[string]bool{"DeleteObject": true, "DeleteObjects": true, "DeleteBucket": true, "AbortMultipartUpload": true}
)

var datasetName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// Measure reads the products' usage over the request's days. It also returns
// notes on how the numbers were taken, for the report's warnings.
func Measure(ctx context.Context, c *Client, req Request) (*cost.Usage, []string, error) {
	days := req.Days()
	if days < 1 {
		return nil, nil, fmt.Errorf("--until %s is before --since %s", req.Until.Format(time.DateOnly), req.Since.Format(time.DateOnly))
	}
	u := &cost.Usage{Days: days}
	dayIndex := map[string]int{}
	for d := 0; d < days; d++ {
		s := req.Since.AddDate(0, 0, d).Format(time.DateOnly)
		u.Dates = append(u.Dates, s)
		dayIndex[s] = d
	}
	start := req.Since.UTC().Format(time.RFC3339)
	end := req.Until.AddDate(0, 0, 1).UTC().Format(time.RFC3339)
	// vars are a query's variables: the period and the stores it reads.
	vars := func(key string, stores []string) map[string]any {
		return map[string]any{"start": start, "end": end, key: stores}
	}
	// Storage is billed in GB-months: the average stored over the period,
	// times the period's share of its month.
	monthDays := float64(time.Date(req.Since.Year(), req.Since.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day())
	monthShare := float64(days) / monthDays

	scripts, buckets, queues := &storeIndex{}, &storeIndex{}, &storeIndex{}
	for i, p := range req.Products {
		u.Products = append(u.Products, cost.ProductUsage{
			Name: p.Name, Pattern: p.Pattern,
			Quantities: map[cost.Meter]float64{}, Daily: map[cost.Meter][]float64{},
		})
		scripts.add(i, p.Script)
		buckets.add(i, p.Buckets...)
		queues.add(i, p.QueueIDs...)
	}
	addDaily := func(pi int, m cost.Meter, date string, n float64) {
		pu := &u.Products[pi]
		pu.Quantities[m] += n
		d, ok := dayIndex[date]
		if !ok {
			return
		}
		if pu.Daily[m] == nil {
			pu.Daily[m] = make([]float64, days)
		}
		pu.Daily[m][d] += n
	}
	// Workers: requests per day; CPU-ms estimated as requests x median CPU time.
	notes, err := measureWorkers(ctx, c, u, vars("scripts", scripts.names), scripts.product, addDaily)
	if err != nil {
		return nil, nil, err
	}

	// R2 operations (by class) and storage.
	if len(buckets.names) > 0 {
		if err := measureR2(ctx, c, u, vars("buckets", buckets.names), buckets.product, monthShare); err != nil {
			return nil, nil, err
		}
	}
	// Queues: billable operations per day.
	if len(queues.names) > 0 {
		if err := measureQueues(ctx, c, vars("queues", queues.names), queues.product, addDaily); err != nil {
			return nil, nil, err
		}
	}

	// Model tokens from Analytics Engine.
	if err := measureTokens(ctx, c, req, u); err != nil {
		return nil, nil, err
	}
	setCacheHitRates(u)
	notes = append(notes, "edge-cache hit rates are 1 - model calls / Worker requests (every request counts, GET /health and refused ones included).")
	return u, notes, nil
}

// storeIndex lists the stores (scripts, buckets or queues) a query reads,
// and which product each belongs to.
type storeIndex struct {
	names   []string
	product map[string]int
}

func (s *storeIndex) add(product int, names ...string) {
	if s.product == nil {
		s.product = map[string]int{}
	}
	for _, n := range names {
		s.names = append(s.names, n)
		s.product[n] = product
	}
}

// measureWorkers adds the scripts' requests and CPU time per day to their
// products, and returns the notes on how they were taken.
func measureWorkers(ctx context.Context, c *Client, u *cost.Usage, vars map[string]any, byScript map[string]int, addDaily func(int, cost.Meter, string, float64)) ([]string, error) {
	rows, err := graphQLRows(ctx, c, WorkersDataset, workersQuery, vars)
	if err != nil {
		return nil, err
	}
	p99 := make([]float64, len(u.Products))
	for _, r := range rows {
		pi, ok := byScript[r.Dimensions.ScriptName]
		if !ok {
			continue
		}
		addDaily(pi, cost.Meter{Service: cost.Workers, Metric: cost.Requests}, r.Dimensions.Date, r.Sum.Requests)
		addDaily(pi, cost.Meter{Service: cost.Workers, Metric: cost.CPUms}, r.Dimensions.Date, r.Sum.Requests*r.Quantiles.CPUTimeP50/1000)
		p99[pi] = math.Max(p99[pi], r.Quantiles.CPUTimeP99/1000)
	}
	for i := range u.Products {
		u.Products[i].CPUmsPerInvocation = p99[i]
		u.Products[i].Requests = u.Products[i].Quantities[cost.Meter{Service: cost.Workers, Metric: cost.Requests}]
	}
	return []string{"Requests are Worker invocations: POST and GET /jobs (polls), /ask, /health and queue batches alike.",
		"Workers CPU-ms are estimated as requests x the median CPU time per day; the free plan's CPU check uses the 99th percentile."}, nil
}

// addStorage adds each store's average bytes (per, by store) to its
// product's storage of service, in GB-months (monthShare: the period's
// share of its month).
func addStorage(u *cost.Usage, service string, byStore map[string]int, per map[string]*average, monthShare float64) {
	for store, a := range per {
		if pi, ok := byStore[store]; ok {
			u.Products[pi].Quantities[cost.Meter{Service: service, Metric: cost.Storage}] += a.value() / 1e9 * monthShare
		}
	}
}

// measureR2 adds the buckets' operations, by class, and their average
// storage to their products.
func measureR2(ctx context.Context, c *Client, u *cost.Usage, vars map[string]any, byBucket map[string]int, monthShare float64) error {
	rows, err := graphQLRows(ctx, c, R2OpsDataset, r2OpsQuery, vars)
	if err != nil {
		return err
	}
	for _, r := range rows {
		pi, ok := byBucket[r.Dimensions.BucketName]
		metric := R2Class(r.Dimensions.ActionType)
		if !ok || metric == "" {
			continue
		}
		u.Products[pi].Quantities[cost.Meter{Service: cost.R2, Metric: metric}] += r.Sum.Requests
	}
	rows, err = graphQLRows(ctx, c, R2StorageDataset, r2StorageQuery, vars)
	if err != nil {
		return err
	}
	perBucket := map[string]*average{}
	for _, r := range rows {
		perBucket[r.Dimensions.BucketName] = perBucket[r.Dimensions.BucketName].add(r.Max.PayloadSize + r.Max.MetadataSize)
	}
	addStorage(u, cost.R2, byBucket, perBucket, monthShare)
	return nil
}

// measureQueues adds the queues' billable operations per day to their
// products.
func measureQueues(ctx context.Context, c *Client, vars map[string]any, byQueue map[string]int, addDaily func(int, cost.Meter, string, float64)) error {
	rows, err := graphQLRows(ctx, c, QueueOpsDataset, queueOpsQuery, vars)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if pi, ok := byQueue[r.Dimensions.QueueID]; ok {
			addDaily(pi, cost.Meter{Service: cost.Queues, Metric: cost.Operations}, r.Dimensions.Date, r.Sum.BillableOperations)
		}
	}
	return nil
}

// setCacheHitRates sets each edge-cache product's hit rate: the share of
// its requests that called no model.
func setCacheHitRates(u *cost.Usage) {
	for i := range u.Products {
		pu := &u.Products[i]
		if pu.Pattern != cost.EdgeCache || pu.Requests <= 0 {
			continue
		}
		var calls float64
		for _, mu := range pu.Models {
			calls += mu.Calls
		}
		h := math.Min(1, math.Max(0, 1-calls/pu.Requests))
		pu.CacheHitRate = &h
		pu.CacheHits = h * pu.Requests
	}
}

// average is the mean of a store's samples (bytes stored per day or per
// sample time): storage is billed on the average stored.
type average struct{ sum, n float64 }

func (a *average) add(x float64) *average {
	if a == nil {
		a = &average{}
	}
	a.sum += x
	a.n++
	return a
}

func (a *average) value() float64 {
	if a == nil || a.n == 0 {
		return 0
	}
	return a.sum / a.n
}

// row is one group of any dataset Measure queries: each dataset fills the
// fields it has (their JSON names do not collide).
type row struct {
	Sum struct {
		Requests           float64 `json:"requests"`
		BillableOperations float64 `json:"billableOperations"`
	} `json:"sum"`
	Max struct {
		ByteCount    float64 `json:"byteCount"`
		PayloadSize  float64 `json:"payloadSize"`
		MetadataSize float64 `json:"metadataSize"`
	} `json:"max"`
	Quantiles struct {
		CPUTimeP50 float64 `json:"cpuTimeP50"`
		CPUTimeP99 float64 `json:"cpuTimeP99"`
	} `json:"quantiles"`
	Dimensions struct {
		Date        string `json:"date"`
		ScriptName  string `json:"scriptName"`
		NamespaceID string `json:"namespaceId"`
		ActionType  string `json:"actionType"`
		BucketName  string `json:"bucketName"`
		QueueID     string `json:"queueId"`
	} `json:"dimensions"`
}

// graphQLRows runs a dataset's query and decodes its groups.
func graphQLRows(ctx context.Context, c *Client, dataset, query string, vars map[string]any) ([]row, error) {
	return Rows[row](ctx, c, dataset, query, vars)
}

// Rows runs a dataset's query and decodes its groups into T; an error
// names the dataset and the row.
func Rows[T any](ctx context.Context, c *Client, dataset, query string, vars map[string]any) ([]T, error) {
	raws, err := c.GraphQL(ctx, dataset, query, vars)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("%s: row %s: %w", dataset, raw, err)
		}
	}
	return out, nil
}
