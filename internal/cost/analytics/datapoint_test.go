package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/nodetool"
)

// writtenPoint is a data point as a Worker hands it to writeDataPoint.
type writtenPoint struct {
	Blobs   []string  `json:"blobs"`
	Doubles []float64 `json:"doubles"`
	Indexes []string  `json:"indexes"`
}

// The call model.ts is given in writePointWithModelTS, and what the data
// point it writes must decode to.
const (
	tsProduct  = "relay"
	tsModel    = "claude-x-1"
	tsPattern  = "edge-cache"
	tsCustomer = "acme"
	tsUsage    = `{"input_tokens": 11, "output_tokens": 22, "cache_read_input_tokens": 33, "cache_creation_input_tokens": 44}`
)

var tsWant = cost.ModelUsage{Model: tsModel, Calls: 1, InputTokens: 11, OutputTokens: 22, CacheReadTokens: 33, CacheWriteTokens: 44}

// writePointWithModelTS runs workers-src/src/lib/model.ts's callModel under
// Node (bundled with esbuild, as the Workers are) against a model that answers
// tsUsage, then its recordHit (an edge-cache hit of customer tsCustomer), and
// returns the data points they wrote to MODEL_USAGE: the call's, the hit's.
func writePointWithModelTS(t *testing.T) []writtenPoint {
	t.Helper()
	root := filepath.Join("..", "..", "..")
	tools, err := nodetool.Find(root)
	if err != nil {
		t.Fatalf("this test runs lib/model.ts: it needs Node >= 22.12 and workers-src/node_modules: %v", err)
	}
	entry := fmt.Sprintf(`import { callModel, recordHit } from "./model";
import { readConfig } from "./config";
const points: unknown[] = [];
globalThis.fetch = async () =>
  new Response(JSON.stringify({ content: [{ type: "text", text: "ok" }], usage: %s }), {
    status: 200, headers: { "content-type": "application/json" },
  });
const env = { PRODUCT: %q, ANTHROPIC_API_KEY: "k", MODEL_USAGE: { writeDataPoint: (p: unknown) => points.push(p) } } as any;
await callModel(env, readConfig(env), { model: %q, max_tokens: 16, messages: [{ role: "user", content: "hi" }] },
  { deadline: Date.now() + 10_000, pattern: %q });
recordHit(env, readConfig(env), %q, %q, %q);
console.log(JSON.stringify(points));
`, tsUsage, tsProduct, tsModel, tsPattern, tsModel, tsPattern, tsCustomer)
	abs, err := filepath.Abs(filepath.Join(root, "workers-src", "src", "lib"))
	if err != nil {
		t.Fatal(err)
	}
	res := api.Build(api.BuildOptions{
		Stdin:    &api.StdinOptions{Contents: entry, ResolveDir: abs, Sourcefile: "datapoint-entry.ts", Loader: api.LoaderTS},
		Bundle:   true,
		Format:   api.FormatESModule,
		Platform: api.PlatformNode,
		Target:   api.ES2022,
		LogLevel: api.LogLevelSilent,
		// As the bundler defines them for a product without a budget
		// (internal/bundle.Defines): the data point is written either way.
		Define: map[string]string{"__ZEROCOST_SPEND_GUARD__": "false", "__ZEROCOST_BATCH_MODE__": "false"},
	})
	if len(res.Errors) > 0 {
		t.Fatalf("bundling lib/model.ts: %s", strings.Join(api.FormatMessages(res.Errors, api.FormatMessagesOptions{Kind: api.ErrorMessage}), ""))
	}
	script := filepath.Join(t.TempDir(), "datapoint.mjs")
	if err := os.WriteFile(script, res.OutputFiles[0].Contents, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := tools.Script(ctx, script).Output()
	if err != nil {
		t.Fatalf("node %s: %v", script, err)
	}
	var points []writtenPoint
	if err := json.Unmarshal(out, &points); err != nil {
		t.Fatalf("model.ts wrote %s: %v", out, err)
	}
	return points
}

// stored is the row Analytics Engine stores for a written data point:
// blobs[i] in blob<i+1>, doubles[i] in double<i+1>, indexes[i] in index<i+1>.
func stored(p writtenPoint) map[string]any {
	row := map[string]any{}
	for i, b := range p.Blobs {
		row[fmt.Sprintf("blob%d", i+1)] = b
	}
	for i, d := range p.Doubles {
		row[fmt.Sprintf("double%d", i+1)] = d
	}
	for i, x := range p.Indexes {
		row[fmt.Sprintf("index%d", i+1)] = x
	}
	return row
}

var (
	selectColumn = regexp.MustCompile(`(?m)^(?:SELECT )?(\w+) AS (\w+), (\w+) AS (\w+), (\w+) AS (\w+),$`)
	sumColumn    = regexp.MustCompile(`SUM\(_sample_interval \* (\w+)\) AS (\w+)`)
	indexFilter  = regexp.MustCompile(`AND (\w+) IN \(([^)]*)\)`)
)

// answer evaluates TokenQuery's SQL over one stored row (one data point, a
// sample interval of 1): the row the SQL API would answer.
func answer(t *testing.T, query string, row map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{"calls": 1.0}
	m := selectColumn.FindStringSubmatch(query)
	if m == nil {
		t.Fatalf("the query selects no product, model and mode:\n%s", query)
	}
	out[m[2]], out[m[4]], out[m[6]] = row[m[1]], row[m[3]], row[m[5]]
	for _, s := range sumColumn.FindAllStringSubmatch(query, -1) {
		v, ok := row[s[1]]
		if !ok {
			t.Fatalf("the query sums %s, which the data point does not have", s[1])
		}
		out[s[2]] = v
	}
	f := indexFilter.FindStringSubmatch(query)
	if f == nil || !strings.Contains(f[2], fmt.Sprintf("'%v'", row[f[1]])) {
		t.Fatalf("the query's index filter %q does not select the point's %s = %v", f, "index", row)
	}
	return out
}

// A data point written by lib/model.ts decodes, through TokenQuery and the
// row decoding Measure uses, into the call's product, model and usage.
func TestModelTSDataPointDecodes(t *testing.T) {
	points := writePointWithModelTS(t)
	if len(points) != 2 {
		t.Fatalf("model.ts wrote %d data points for one call and one hit: %+v", len(points), points)
	}
	p := points[0]
	l := contract.ModelUsagePoint
	if len(p.Blobs) != len(l.Blobs) || len(p.Doubles) != len(l.Doubles) || len(p.Indexes) != len(l.Indexes) {
		t.Fatalf("model.ts wrote %+v; the layout is %+v", p, l)
	}
	row := answer(t, TokenQuery(DefaultModelDataset, []string{tsProduct}, day("2026-11-01"), day("2026-11-01")), stored(p))
	product, mu, err := decodeTokenRow(row)
	if err != nil {
		t.Fatal(err)
	}
	if product != tsProduct || mu != tsWant {
		t.Errorf("decoded %s %+v, want %s %+v (model.ts wrote %+v)", product, mu, tsProduct, tsWant, p)
	}
	// The pattern is stored where the layout says.
	if got := stored(p)[l.Column(contract.FieldPattern)]; got != tsPattern {
		t.Errorf("pattern column %s holds %v", l.Column(contract.FieldPattern), got)
	}
}

// The decoding fails loudly when the Worker's layout and Go's differ: a point
// with its doubles in another order decodes to other numbers.
func TestDataPointOrderMatters(t *testing.T) {
	p := writtenPoint{Blobs: []string{tsProduct, tsModel, tsPattern, "realtime"}, Doubles: []float64{22, 11, 33, 44}, Indexes: []string{tsProduct}}
	row := answer(t, TokenQuery(DefaultModelDataset, []string{tsProduct}, day("2026-11-01"), day("2026-11-01")), stored(p))
	if _, mu, err := decodeTokenRow(row); err != nil || mu == tsWant {
		t.Errorf("swapped doubles decoded as %+v (%v)", mu, err)
	}
}

// The point of an edge-cache hit written by model.ts's recordHit is no model
// call: TokenQuery answers it in a row of its own that hitPoints takes (a
// data point) and no call's row. It is a request of its customer, and a
// cache hit: CustomerQuery's columns select it.
func TestModelTSHitPointIsNoCall(t *testing.T) {
	points := writePointWithModelTS(t)
	if len(points) != 2 {
		t.Fatalf("model.ts wrote %+v", points)
	}
	hit := stored(points[1])
	l := contract.ModelUsagePoint
	if hit[l.Column(contract.FieldMode)] != contract.ModeCacheHit || hit[l.Column(contract.FieldCustomer)] != tsCustomer {
		t.Errorf("the hit's point %v: want mode %s and customer %s", hit, contract.ModeCacheHit, tsCustomer)
	}
	for _, f := range l.Doubles {
		if hit[l.Column(f)] != 0.0 {
			t.Errorf("the hit's %s is %v, want 0", f, hit[l.Column(f)])
		}
	}
	q := TokenQuery(DefaultModelDataset, []string{tsProduct}, day("2026-11-01"), day("2026-11-01"))
	if n, isHit, err := hitPoints(answer(t, q, hit)); err != nil || !isHit || n != 1 {
		t.Errorf("the hit's row: %v points, a hit %v (%v)", n, isHit, err)
	}
	if _, isHit, err := hitPoints(answer(t, q, stored(points[0]))); err != nil || isHit {
		t.Errorf("the call's row is taken for hits (%v)", err)
	}
	cq := CustomerQuery(DefaultModelDataset, []string{tsProduct}, day("2026-11-01"), day("2026-11-30"))
	want := fmt.Sprintf("sumIf(_sample_interval, %s = '%s') AS cache_hits", l.Column(contract.FieldMode), hit[l.Column(contract.FieldMode)])
	if !strings.Contains(cq, want) || !strings.Contains(cq, l.Column(contract.FieldCustomer)+" AS customer") {
		t.Errorf("CustomerQuery does not count the hit's point by its customer and mode (%s):\n%s", want, cq)
	}
}
