// Package cost is `zerocost cost`: its verbs live one per package (forecast,
// report, diff), each with its own Options.
package cost

import (
	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmd/cost/diff"
	"github.com/zerocost/zerocost/internal/cmd/cost/forecast"
	"github.com/zerocost/zerocost/internal/cmd/cost/report"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/prices"
)

// NewCmd returns `zerocost cost` and its verbs.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cost",
		Short: "Forecast and report what a stack costs: Cloudflare infrastructure and model tokens",
		Long: `Price a stack on Workers Free or Workers Paid: Workers requests and CPU, R2
and Queues operations and storage, Analytics Engine data points (KV too, in a
report of an older deployment), and the model's tokens, with the prices
of a dated price file (embedded: ` + prices.CurrentPath + `; --prices FILE for another).

  forecast  prices a usage profile (TOML: requests and tokens per product)
            against the stack that says what each product is
  report    prices what a deployed stack used, read from Cloudflare's analytics
  diff      compares the forecast of a base (a git revision) with the working tree

forecast and report print line items per product, the totals
(infrastructure, model, all), the edge cache's savings, the cost on the
other plan, warnings for every Workers Free limit the account would break,
the free-tier capacity (requests a day each product and the stack serve at
$0, and the limit that stops them), and what prompt caching and the Batch
API would save.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(forecast.NewCmd(f, nil), report.NewCmd(f, nil), diff.NewCmd(f, nil))
	return cmd
}
