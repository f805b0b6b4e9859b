package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/cost"
)

// SpendTable is the spend store's table of exact use per customer, written
// by the Workers' spend guard (one row per month, product and customer):
//
//	CREATE TABLE IF NOT EXISTS customer_spend (month TEXT NOT NULL, product TEXT NOT NULL,
//	  customer TEXT NOT NULL, nanos INTEGER NOT NULL DEFAULT 0, calls INTEGER NOT NULL DEFAULT 0,
//	  input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
//	  PRIMARY KEY (month, product, customer)) WITHOUT ROWID
//
// month is YYYY-MM (UTC), nanos nano-USD.
const SpendTable = "customer_spend"

// SpendQuery reads one month (?1, YYYY-MM) of the spend store. The primary
// key makes each (product, customer) one row: nothing to add up.
const SpendQuery = "SELECT product, customer, nanos, calls, input_tokens, output_tokens FROM " + SpendTable +
	" WHERE month = ? ORDER BY product, customer"

// D1 runs a query on a D1 database: *cfapi.Client, against Cloudflare or
// zerocost dev's local API alike.
type D1 interface {
	D1Query(ctx context.Context, account, database, sql string, params ...string) ([]cfapi.D1Row, error)
}

// CustomerRequest is what MeasureCustomers reads.
type CustomerRequest struct {
	// Month is any time in the month (UTC).
	Month time.Time
	// Products are the stack's products (the sampled requests are read for them).
	Products []string
	// AccountID and DatabaseID name the spend store.
	AccountID, DatabaseID string
	// Dataset is the Analytics Engine dataset of the model usage ("": the default).
	Dataset string
}

// MonthOf is the month's label, YYYY-MM.
func MonthOf(t time.Time) string { return t.UTC().Format("2006-01") }

// MeasureCustomers reads the month's use per product and customer: the exact
// figures from the spend store (d1), the sampled requests from Analytics
// Engine (ae; nil leaves them unmeasured). Rows are sorted by product and
// customer; a customer seen by only one source still gets its row.
func MeasureCustomers(ctx context.Context, d1 D1, ae *Client, req CustomerRequest) (*cost.CustomerReport, error) {
	month := MonthOf(req.Month)
	rows, err := d1.D1Query(ctx, req.AccountID, req.DatabaseID, SpendQuery, month)
	if err != nil {
		return nil, fmt.Errorf("the spend store: %w", err)
	}
	byKey := map[[2]string]*cost.CustomerUsage{}
	at := func(product, customer string) *cost.CustomerUsage {
		k := [2]string{product, customer}
		if byKey[k] == nil {
			byKey[k] = &cost.CustomerUsage{Product: product, Customer: customer}
		}
		return byKey[k]
	}
	for _, r := range rows {
		if err := addSpendRow(r, at); err != nil {
			return nil, fmt.Errorf("the spend store, month %s: %w", month, err)
		}
	}
	if ae != nil {
		if err := customerRequests(ctx, ae, req, at, byKey); err != nil {
			return nil, err
		}
	}
	rep := &cost.CustomerReport{Kind: "customer_report", Month: month, Exact: cost.CustomerExactFields, Sampled: cost.CustomerSampledFields,
		Rows: make([]cost.CustomerUsage, 0, len(byKey))}
	for _, u := range byKey {
		rep.Rows = append(rep.Rows, *u)
	}
	sort.Slice(rep.Rows, func(i, j int) bool {
		a, b := rep.Rows[i], rep.Rows[j]
		return a.Product < b.Product || (a.Product == b.Product && a.Customer < b.Customer)
	})
	rep.Sum()
	return rep, nil
}

// addSpendRow adds one row of SpendQuery's answer.
func addSpendRow(r cfapi.D1Row, at func(product, customer string) *cost.CustomerUsage) error {
	product, ok1 := r["product"].(string)
	customer, ok2 := r["customer"].(string)
	if !ok1 || !ok2 {
		return fmt.Errorf("a row without a text product and customer: %v", map[string]any(r))
	}
	u := at(product, customer)
	for _, c := range []struct {
		col string
		dst *int64
	}{{"nanos", (*int64)(&u.ModelCostUSD)}, {"calls", &u.ModelCalls}, {"input_tokens", &u.InputTokens}, {"output_tokens", &u.OutputTokens}} {
		n, err := integer(r[c.col])
		if err != nil {
			return fmt.Errorf("%s/%s: %s: %w", product, customer, c.col, err)
		}
		*c.dst += n
	}
	return nil
}

// integer reads an INTEGER column exactly.
func integer(v any) (int64, error) {
	switch x := v.(type) {
	case json.Number:
		return strconv.ParseInt(x.String(), 10, 64)
	case nil:
		return 0, nil
	}
	return 0, fmt.Errorf("%v is not an integer", v)
}

// CustomerQuery is the SQL of the sampled model-usage data points per
// product and customer from since to until (both included): every point is
// a request served (a model call's, or a cache hit's), and the points of
// mode cache_hit are also counted apart (sumIf: Analytics Engine SQL since
// 2025-11-12, developers.cloudflare.com/changelog/2025-11-12-analytics-engine-further-sql-enhancements).
func CustomerQuery(dataset string, products []string, since, until time.Time) string {
	return fmt.Sprintf(`SELECT %s AS product, %s AS customer,
  SUM(_sample_interval) AS requests,
  sumIf(_sample_interval, %s = '%s') AS cache_hits
FROM %s
WHERE timestamp >= toDateTime('%s 00:00:00') AND timestamp < toDateTime('%s 00:00:00')
  AND %s IN (%s)
GROUP BY product, customer
ORDER BY product, customer
FORMAT JSON`, point.Column(contract.FieldProduct), point.Column(contract.FieldCustomer), point.Column(contract.FieldMode), contract.ModeCacheHit, dataset,
		since.Format(time.DateOnly), until.AddDate(0, 0, 1).Format(time.DateOnly), point.IndexColumn(contract.FieldProduct), sqlStrings(products))
}

// customerRequests sets each row's sampled requests and cache hits (0
// where Analytics Engine saw none).
func customerRequests(ctx context.Context, ae *Client, req CustomerRequest, at func(string, string) *cost.CustomerUsage, byKey map[[2]string]*cost.CustomerUsage) error {
	dataset := req.Dataset
	if dataset == "" {
		dataset = DefaultModelDataset
	}
	if !datasetName.MatchString(dataset) {
		return fmt.Errorf("%s: %q is not an Analytics Engine dataset name", SQLWhat, dataset)
	}
	first := time.Date(req.Month.UTC().Year(), req.Month.UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	res, err := ae.SQL(ctx, CustomerQuery(dataset, req.Products, first, first.AddDate(0, 1, -1)))
	if err != nil {
		return err
	}
	for _, row := range res.Data {
		product, _ := row["product"].(string)
		customer, _ := row["customer"].(string)
		u := at(product, customer)
		for _, c := range []struct {
			col string
			dst **float64
		}{{"requests", &u.Requests}, {"cache_hits", &u.CacheHits}} {
			n, err := Number(row[c.col])
			if err != nil {
				return fmt.Errorf("%s: %s of %s/%s: %w", SQLWhat, c.col, product, customer, err)
			}
			*c.dst = addTo(*c.dst, n)
		}
	}
	for _, u := range byKey {
		u.Requests, u.CacheHits = addTo(u.Requests, 0), addTo(u.CacheHits, 0)
	}
	return nil
}

// addTo adds n to a sampled count, nil (not measured) counting as 0.
func addTo(x *float64, n float64) *float64 {
	if x == nil {
		x = new(float64)
	}
	*x += n
	return x
}
