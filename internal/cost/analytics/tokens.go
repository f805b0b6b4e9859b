package analytics

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/cost"
)

// point is the layout of the model-usage data points TokenQuery reads.
var point = contract.ModelUsagePoint

// tokenColumns are the token sums TokenQuery selects per product and model:
// the result column, the data point field it sums and where it goes.
var tokenColumns = []struct {
	alias, field string
	dst          func(*cost.ModelUsage) *float64
}{
	{"input_tokens", contract.FieldInputTokens, func(m *cost.ModelUsage) *float64 { return &m.InputTokens }},
	{"output_tokens", contract.FieldOutputTokens, func(m *cost.ModelUsage) *float64 { return &m.OutputTokens }},
	{"cache_read_tokens", contract.FieldCacheReadTokens, func(m *cost.ModelUsage) *float64 { return &m.CacheReadTokens }},
	{"cache_write_tokens", contract.FieldCacheCreateTokens, func(m *cost.ModelUsage) *float64 { return &m.CacheWriteTokens }},
}

// TokenQuery is the SQL that reads the model calls, its columns from the data
// point's layout. Analytics Engine samples at high volume: each row stands for
// _sample_interval data points. The points of mode cache_hit (an edge-cache
// request served without a model call, no tokens) come in rows of their own,
// which measureTokens counts as data points, never as calls (hitPoints).
func TokenQuery(dataset string, products []string, since, until time.Time) string {
	var sums strings.Builder
	for _, c := range tokenColumns {
		fmt.Fprintf(&sums, ",\n  SUM(_sample_interval * %s) AS %s", point.Column(c.field), c.alias)
	}
	return fmt.Sprintf(`SELECT %s AS product, %s AS model, %s AS mode,
  SUM(_sample_interval) AS calls%s
FROM %s
WHERE timestamp >= toDateTime('%s 00:00:00') AND timestamp < toDateTime('%s 00:00:00')
  AND %s IN (%s)
GROUP BY product, model, mode
ORDER BY product, model, mode
FORMAT JSON`, point.Column(contract.FieldProduct), point.Column(contract.FieldModel), point.Column(contract.FieldMode), sums.String(), dataset,
		since.Format(time.DateOnly), until.AddDate(0, 0, 1).Format(time.DateOnly), point.IndexColumn(contract.FieldProduct), sqlStrings(products))
}

// sqlStrings is a list of SQL string literals, quoted and escaped: 'a', 'b'.
func sqlStrings(list []string) string {
	quoted := make([]string, len(list))
	for i, p := range list {
		quoted[i] = "'" + strings.ReplaceAll(strings.ReplaceAll(p, `\`, `\\`), `'`, `\'`) + "'"
	}
	return strings.Join(quoted, ", ")
}

// hitPoints reads a row of TokenQuery's answer that holds cache-hit points
// (mode cache_hit): their number, and whether the row is one.
func hitPoints(row map[string]any) (float64, bool, error) {
	if mode, _ := row["mode"].(string); mode != contract.ModeCacheHit {
		return 0, false, nil
	}
	n, err := Number(row["calls"])
	if err != nil {
		return 0, true, fmt.Errorf("%s: cache-hit points of %v: %w", SQLWhat, row["product"], err)
	}
	return n, true, nil
}

// decodeTokenRow reads one row of TokenQuery's answer that holds model
// calls (not hitPoints').
func decodeTokenRow(row map[string]any) (product string, mu cost.ModelUsage, err error) {
	product, _ = row["product"].(string)
	mu.Model, _ = row["model"].(string)
	// Points written before the mode field existed have an empty blob4:
	// they were realtime calls.
	switch mode, _ := row["mode"].(string); mode {
	case "", contract.ModeRealtime:
	case contract.ModeBatch:
		mu.Batch = true
	default:
		return "", mu, fmt.Errorf("%s: mode %q of %s/%s: want realtime or batch", SQLWhat, mode, product, mu.Model)
	}
	cols := []struct {
		name string
		dst  *float64
	}{{"calls", &mu.Calls}}
	for _, c := range tokenColumns {
		cols = append(cols, struct {
			name string
			dst  *float64
		}{c.alias, c.dst(&mu)})
	}
	for _, c := range cols {
		n, err := Number(row[c.name])
		if err != nil {
			return "", mu, fmt.Errorf("%s: %s of %s/%s: %w", SQLWhat, c.name, product, mu.Model, err)
		}
		*c.dst = n
	}
	return product, mu, nil
}

func measureTokens(ctx context.Context, c *Client, req Request, u *cost.Usage) error {
	dataset := req.ModelDataset
	if dataset == "" {
		dataset = DefaultModelDataset
	}
	if !datasetName.MatchString(dataset) {
		return fmt.Errorf("%s: %q is not an Analytics Engine dataset name", SQLWhat, dataset)
	}
	names := make([]string, len(req.Products))
	byName := map[string]int{}
	for i, p := range req.Products {
		names[i] = p.Name
		byName[p.Name] = i
	}
	res, err := c.SQL(ctx, TokenQuery(dataset, names, req.Since, req.Until))
	if err != nil {
		return err
	}
	for _, row := range res.Data {
		product, _ := row["product"].(string)
		pi, ok := byName[product]
		if !ok {
			continue
		}
		// The Workers write one data point per model call and one per
		// edge-cache request served without one (the period's total;
		// Analytics Engine's free limit is per day, which a total cannot
		// show).
		points := cost.Meter{Service: cost.Analytics, Metric: cost.DataPoints}
		hits, isHit, err := hitPoints(row)
		if err != nil {
			return err
		}
		if isHit {
			u.Products[pi].Quantities[points] += hits
			continue
		}
		_, mu, err := decodeTokenRow(row)
		if err != nil {
			return err
		}
		u.Products[pi].Models = append(u.Products[pi].Models, mu)
		u.Products[pi].Quantities[points] += mu.Calls
	}
	for i := range u.Products {
		ms := u.Products[i].Models
		sort.Slice(ms, func(a, b int) bool {
			if ms[a].Model != ms[b].Model {
				return ms[a].Model < ms[b].Model
			}
			return !ms[a].Batch && ms[b].Batch
		})
	}
	return nil
}
