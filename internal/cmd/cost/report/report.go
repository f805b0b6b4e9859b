// Package report is `zerocost cost report`: it prices what a deployed stack
// used, read from Cloudflare's analytics.
package report

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmd/cost/shared"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/cost/analytics"
)

// MaxDays is the longest report: one billing month (the included amounts
// and the free allowances are monthly).
const MaxDays = 31

// Options are the command's inputs.
type Options struct {
	IO  *cmdutil.IOStreams
	Ctx context.Context
	shared.Deployment

	Since  time.Time
	Until  time.Time
	Plan   string
	Format string
	Prices string

	// By is "" (the stack's bill, per product) or "customer".
	By string
	// Month is the month of a report by customer (UTC).
	Month time.Time
	// Local reads a report by customer from the stack's running zerocost dev.
	Local bool
}

// NewCmd returns `zerocost cost report`; runF replaces its run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{IO: f.IO, Deployment: shared.NewDeployment(f)}
	var since, until string
	var by byCustomerFlags
	cmd := &cobra.Command{
		Use:   "report --stack NAME (--since DATE --until DATE | --by customer [--month YYYY-MM] [--local]) [--outputs FILE]",
		Short: "Price what a deployed stack used, from Cloudflare's analytics",
		Long: `Read what the stack's Workers, R2 buckets and queues did from
Cloudflare's GraphQL Analytics API (workersInvocationsAdaptive,
r2OperationsAdaptiveGroups, r2StorageAdaptiveGroups,
queueMessageOperationsAdaptiveGroups), and the model
tokens from the Workers' Analytics Engine dataset (zerocost_model_usage) with
its SQL API; then price them like a forecast, with the measured cache hit rate.

Names come from the stack's plan, queue ids from the deployed stack's
outputs (read with the pulumi CLI, or from --outputs FILE, written by
pulumi stack output --json > outputs.json), the account id from the stack
config. The API token comes from CLOUDFLARE_API_TOKEN and needs Account
Analytics: Read. --since and --until are UTC dates, both included, at most
31 days apart (the period is priced as one billing month). R2 analytics
keep 31 days.

` + byCustomerHelp,
		Example: "  zerocost cost report --stack demo --since 2026-11-01 --until 2026-11-30\n" +
			"  zerocost cost report --stack demo --since 2026-11-01 --until 2026-11-30 --outputs outputs.json\n" +
			"  zerocost cost report --stack demo --by customer --month 2026-11 --csv > 2026-11.csv\n" +
			"  zerocost cost report --stack demo --by customer --local --json",
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(o, &o.Ctx, func() error {
			if o.By != "" {
				return by.checkCustomers(o, time.Now())
			}
			if err := by.checkBill(o); err != nil {
				return err
			}
			var err error
			if o.Since, o.Until, err = period(since, until); err != nil {
				return err
			}
			return shared.CheckFormat(o.Format, cost.Formats, o.Plan)
		}, runF, Run),
	}
	o.AddFlags(cmd)
	cmd.Flags().StringVar(&since, "since", "", "first day, `DATE` YYYY-MM-DD (UTC, required)")
	cmd.Flags().StringVar(&until, "until", "", "last day, `DATE` YYYY-MM-DD (UTC, included, required)")
	cmd.Flags().StringVar(&o.Plan, "plan", cost.Free, "free or paid: the plan to price on")
	shared.AddFormatFlags(cmd, &o.Format, &o.Prices, cost.Formats)
	by.add(cmd, o)
	return cmd
}

func period(since, until string) (time.Time, time.Time, error) {
	s, err := parseDate("--since", since)
	if err != nil {
		return s, s, err
	}
	u, err := parseDate("--until", until)
	if err != nil {
		return s, u, err
	}
	if u.Before(s) {
		return s, u, fmt.Errorf("--until %s is before --since %s", until, since)
	}
	if days := int(u.Sub(s).Hours()/24) + 1; days > MaxDays {
		return s, u, fmt.Errorf("--since %s to --until %s is %d days: a report covers at most %d (one billing month)", since, until, days, MaxDays)
	}
	return s, u, nil
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

// Run measures and prices the period, or reports the month by customer.
func Run(o *Options) error {
	if o.By == ByCustomer {
		return runCustomers(o)
	}
	s, stop, err := o.Open(o.Ctx, o.Prices)
	defer stop()
	if err != nil {
		return err
	}
	u, notes, err := analytics.Measure(s.Ctx, s.Client, analytics.Request{Since: o.Since, Until: o.Until, Products: s.Products, ModelDataset: s.Dataset})
	if err != nil {
		return fmt.Errorf("stack %s: %w", o.Stack, err)
	}
	notes = append(notes, budgets(u, s.Config, o.Since, o.Until)...)
	plan := o.Plan
	if plan == "" {
		plan = cost.Free
	}
	r, err := cost.Estimate(u, s.Prices, plan)
	if err != nil {
		return fmt.Errorf("stack %s: %w", o.Stack, err)
	}
	r.Kind = "report"
	r.Source = "stack " + o.Stack
	r.Since, r.Until = o.Since.Format(time.DateOnly), o.Until.Format(time.DateOnly)
	r.Notes = notes
	return cost.Write(o.IO.Out, r, o.Format)
}
