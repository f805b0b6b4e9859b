// Package cost is the `zerocost cost` command: `cost forecast` prices a usage
// profile, `cost report` prices what a deployed stack used.
package cost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/cost/analytics"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/prices"
)

// Environment variables the report reads.
const (
	EnvAPIToken = cfapi.EnvToken
	EnvAPIURL   = cfapi.EnvBaseURL
)

// MaxReportDays is the longest report: one billing month (the included
// amounts and the free allowances are monthly).
const MaxReportDays = 31

// Subcommands.
const (
	Forecast = "forecast"
	Report   = "report"
)

// Options are the command's inputs.
type Options struct {
	F *cmdutil.Factory
	// Command is Forecast or Report.
	Command string
	Format  string
	Plan    string
	Prices  string

	// forecast
	Usage string
	// CheckStack is set when --stack was given to forecast.
	CheckStack bool

	// report
	Stack   string
	Since   time.Time
	Until   time.Time
	Outputs string
	APIURL  string
}

// NewCmd returns `zerocost cost` and its subcommands; runF replaces the run
// of both in tests of flag parsing.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cost",
		Short: "Forecast and report what a stack costs: Cloudflare infrastructure and model tokens",
		Long: `Price a stack on Workers Free or Workers Paid: Workers requests and CPU, R2
and Queues operations and storage, Analytics Engine data points (KV too, in a
report of an older deployment), and the model's tokens, with the prices
of a dated price file (embedded: ` + prices.CurrentPath + `; --prices FILE for another).

  forecast  prices a usage profile (TOML: requests and tokens per product)
  report    prices what a deployed stack used, read from Cloudflare's analytics

Both print line items per product, the totals (infrastructure, model, all),
the edge cache's savings, the cost on the other plan, warnings for every
Workers Free limit the account would break, the free-tier capacity (requests a
day each product and the stack serve at $0, and the limit that stops them),
and what prompt caching and the Batch API would save.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newForecastCmd(f, runF), newReportCmd(f, runF))
	return cmd
}

func addCommonFlags(cmd *cobra.Command, o *Options) {
	cmd.Flags().StringVar(&o.Format, "format", "table", "output format: table, json, markdown or html")
	cmd.Flags().StringVar(&o.Prices, "prices", "", "price `FILE` to use instead of the embedded "+prices.CurrentPath)
}

func checkCommon(o *Options) error {
	if !contains(cost.Formats, o.Format) {
		return fmt.Errorf("--format %q: use %s", o.Format, strings.Join(cost.Formats, ", "))
	}
	if o.Plan != "" && o.Plan != cost.Free && o.Plan != cost.Paid {
		return fmt.Errorf("--plan %q: use free (Workers Free) or paid (Workers Paid)", o.Plan)
	}
	return nil
}

// runInBackground runs the options with a context nothing cancels.
func runInBackground(o *Options) error { return Run(context.Background(), o) }

func newForecastCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{F: f, Command: Forecast}
	cmd := &cobra.Command{
		Use:   "forecast --usage FILE",
		Short: "Price a usage profile before you deploy",
		Long: `Price a month of traffic described by a usage profile (TOML):

  plan = "free"                  # or "paid"; --plan overrides
  days = 30                      # days in the month
  [[product]]
  name = "ai-relay"
  pattern = "edge-cache"         # event-agent | async-pipeline | edge-cache
  requests = 48000               # per month: jobs, or questions for edge-cache
  input_tokens = 400             # average per model call
  output_tokens = 100
  cache_hit_rate = 0.62          # edge-cache only
  model = "claude-haiku-4-5"
  result_bytes = 2000            # average stored result

Optional per product: cached_prefix_tokens (for the prompt-caching lever),
cpu_ms (2), polls_per_job (2, event-agent and async-pipeline), retry_rate,
dead_letter_rate and messages_per_batch (async-pipeline), model_mode
("batch": the Message Batches API at half price; with batch_poll_minutes and
batch_hours), monthly_budget_usd (the product's model budget: the forecast
says on which day it runs out). Top
level: monthly_budget_usd (caps all products together). R2 storage is what
the stack's lifecycle rules keep: job records settings.retentionDays (31), answers their cache TTL in whole days, each plus the day
R2's deletion may lag; the defaults, or the stack's settings with --stack. docs/cost.md lists what each pattern does per
request. Unknown keys are errors.

On Workers Free every daily limit is checked against the account's total (the
month spread evenly over its days); exactly the limit passes.`,
		Example: "  zerocost cost forecast --usage examples/usage/demo.toml\n" +
			"  zerocost cost forecast --usage examples/usage/demo.toml --plan paid --format markdown",
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(o, nil, func() error {
			if o.Usage == "" {
				return errors.New("--usage is required: the usage profile to price (see examples/usage/demo.toml)")
			}
			return checkCommon(o)
		}, runF, runInBackground),
	}
	cmd.Flags().StringVar(&o.Usage, "usage", "", "usage profile `FILE` (TOML) to price (required)")
	cmd.Flags().StringVar(&o.Plan, "plan", "", "free or paid (default: the profile's plan)")
	cmd.Flags().StringVar(&o.Stack, "stack", cmdutil.DefaultStack, "when given, check the profile's products, patterns and models against this stack's plan, and keep R2 data as its settings do")
	addCommonFlags(cmd, o)
	cmd.PreRun = func(c *cobra.Command, _ []string) { o.CheckStack = c.Flags().Changed("stack") }
	return cmd
}

// checkAgainstPlan makes sure a profile prices the stack's products as the
// plan defines them: same names, patterns and models.
func checkAgainstPlan(o *Options, prof *cost.Profile) error {
	l, err := o.F.Load(o.Stack)
	if err != nil {
		return err
	}
	var errs []error
	seen := map[string]bool{}
	for i, pp := range prof.Products {
		seen[pp.Name] = true
		pr := l.Plan.Product(pp.Name)
		field := fmt.Sprintf("%s: product[%d]", o.Usage, i)
		switch {
		case pr == nil:
			errs = append(errs, fmt.Errorf("%s.name: %q is not a product of stack %s", field, pp.Name, o.Stack))
		case pr.Pattern != pp.Pattern:
			errs = append(errs, fmt.Errorf("%s.pattern: %q, but stack %s runs %s as %s", field, pp.Pattern, o.Stack, pp.Name, pr.Pattern))
		case pp.Model != "" && pr.Model != pp.Model:
			errs = append(errs, fmt.Errorf("%s.model: %q, but stack %s runs %s on %s", field, pp.Model, o.Stack, pp.Name, pr.Model))
		default:
			// R2 keeps what the stack's lifecycle rules keep.
			prof.Products[i].Retention = pr.Settings
		}
	}
	if len(errs) > 0 {
		return cmdutil.ConfigError(errors.Join(errs...))
	}
	for _, pr := range l.Plan.Products {
		if !seen[pr.Name] {
			fmt.Fprintf(o.F.IO.ErrOut, "note: the profile has no traffic for %s (%s) of stack %s\n", pr.Name, pr.Pattern, o.Stack)
		}
	}
	return nil
}

func newReportCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{F: f, Command: Report}
	var since, until string
	cmd := &cobra.Command{
		Use:   "report --stack NAME --since DATE --until DATE --outputs FILE",
		Short: "Price what a deployed stack used, from Cloudflare's analytics",
		Long: `Read what the stack's Workers, R2 buckets and queues did from
Cloudflare's GraphQL Analytics API (workersInvocationsAdaptive,
r2OperationsAdaptiveGroups, r2StorageAdaptiveGroups,
queueMessageOperationsAdaptiveGroups), and the model
tokens from the Workers' Analytics Engine dataset (zerocost_model_usage) with
its SQL API; then price them like a forecast, with the measured cache hit rate.

Names come from the stack's plan, queue ids from the deployed
stack's outputs (pulumi stack output --json > outputs.json), the account id
from the stack config. The API token comes from CLOUDFLARE_API_TOKEN and needs
Account Analytics: Read. --since and --until are UTC dates, both included, at
most 31 days apart (the period is priced as one billing month). R2
analytics keep 31 days.`,
		Example: "  pulumi stack output --json --stack demo > outputs.json\n" +
			"  zerocost cost report --stack demo --since 2026-11-01 --until 2026-11-30 --outputs outputs.json",
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(o, nil, func() error {
			var err error
			if o.Since, err = parseDate("--since", since); err != nil {
				return err
			}
			if o.Until, err = parseDate("--until", until); err != nil {
				return err
			}
			if o.Until.Before(o.Since) {
				return fmt.Errorf("--until %s is before --since %s", until, since)
			}
			if days := int(o.Until.Sub(o.Since).Hours()/24) + 1; days > MaxReportDays {
				return fmt.Errorf("--since %s to --until %s is %d days: a report covers at most %d (one billing month)", since, until, days, MaxReportDays)
			}
			if o.Outputs == "" {
				return errors.New("--outputs is required: the stack's outputs (pulumi stack output --json > outputs.json) give the queue ids")
			}
			return checkCommon(o)
		}, runF, runInBackground),
	}
	cmdutil.AddStackFlag(cmd, &o.Stack)
	cmd.Flags().StringVar(&since, "since", "", "first day, `DATE` YYYY-MM-DD (UTC, required)")
	cmd.Flags().StringVar(&until, "until", "", "last day, `DATE` YYYY-MM-DD (UTC, included, required)")
	cmd.Flags().StringVar(&o.Outputs, "outputs", "", "the deployed stack's outputs `FILE`, from pulumi stack output --json (required)")
	cmd.Flags().StringVar(&o.APIURL, "api-url", "", "Cloudflare API base `URL` (default: $"+EnvAPIURL+", else "+cfapi.DefaultBaseURL+")")
	cmd.Flags().StringVar(&o.Plan, "plan", cost.Free, "free or paid: the plan to price on")
	addCommonFlags(cmd, o)
	return cmd
}

func parseDate(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("%s is required (YYYY-MM-DD)", flag)
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not a date (YYYY-MM-DD)", flag, s)
	}
	return t, nil
}

// Run runs the subcommand the options name.
func Run(ctx context.Context, o *Options) error {
	pr, err := cost.LoadPrices(o.Prices)
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	var r *cost.Report
	switch o.Command {
	case Forecast:
		r, err = forecast(o, pr)
	case Report:
		r, err = report(ctx, o, pr)
	default:
		err = fmt.Errorf("unknown cost subcommand %q", o.Command)
	}
	if err != nil {
		return err
	}
	return cost.Write(o.F.IO.Out, r, o.Format)
}

func forecast(o *Options, prices *cost.Prices) (*cost.Report, error) {
	prof, err := cost.LoadProfile(o.Usage)
	if err != nil {
		return nil, cmdutil.ConfigError(err)
	}
	if o.CheckStack {
		if err := checkAgainstPlan(o, prof); err != nil {
			return nil, err
		}
	}
	r, err := cost.Forecast(prof, prices, o.Plan)
	if err != nil {
		return nil, cmdutil.ConfigError(fmt.Errorf("%s: %w", o.Usage, err))
	}
	return r, nil
}

func report(ctx context.Context, o *Options, prices *cost.Prices) (*cost.Report, error) {
	l, err := o.F.Load(o.Stack)
	if err != nil {
		return nil, err
	}
	out, err := outputs.ReadFile(o.Outputs)
	if err != nil {
		return nil, cmdutil.ConfigError(err)
	}
	products, dataset, err := analytics.StackProducts(l.Plan, out)
	if err != nil {
		return nil, cmdutil.ConfigError(err)
	}
	token := o.F.Env(EnvAPIToken)
	if token == "" {
		return nil, cmdutil.ConfigError(fmt.Errorf("%s is not set: a Cloudflare API token with Account Analytics: Read", EnvAPIToken))
	}
	base, err := cfapi.ResolveBaseURL(o.APIURL, "--api-url", o.F.Env)
	if err != nil {
		return nil, cmdutil.ConfigError(err)
	}
	c := &analytics.Client{BaseURL: base, Token: token, AccountID: l.Plan.AccountID, MaxRetries: -1, HTTP: o.F.Client()}
	u, notes, err := analytics.Measure(ctx, c, analytics.Request{Since: o.Since, Until: o.Until, Products: products, ModelDataset: dataset})
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", o.Stack, err)
	}
	// The budgets the Workers enforce: spend against them in the period.
	u.StackBudgetUSD = l.Config.MonthlyBudgetUSD
	for _, sp := range l.Config.Products {
		if sp.Settings.MonthlyBudgetUSD > 0 {
			if u.Budgets == nil {
				u.Budgets = map[string]float64{}
			}
			u.Budgets[sp.Name] = sp.Settings.MonthlyBudgetUSD
		}
	}
	if len(u.Budgets) > 0 || u.StackBudgetUSD > 0 {
		if o.Since.Day() != 1 || o.Until.AddDate(0, 0, 1).Day() != 1 || o.Since.Month() != o.Until.Month() {
			notes = append(notes, "Budgets are per calendar month (UTC) and this period is not one: spend against budget compares the period's spend with one month's budget.")
		}
	}
	plan := o.Plan
	if plan == "" {
		plan = cost.Free
	}
	r, err := cost.Estimate(u, prices, plan)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", o.Stack, err)
	}
	r.Kind = "report"
	r.Source = "stack " + o.Stack
	r.Since, r.Until = o.Since.Format(time.DateOnly), o.Until.Format(time.DateOnly)
	r.Notes = notes
	return r, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
