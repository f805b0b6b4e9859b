package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cost"
)

// ByCustomer is --by's one value.
const ByCustomer = "customer"

// byCustomerHelp ends the command's help.
const byCustomerHelp = `With --by customer, the report is the use of each customer of each
product in one calendar month (--month YYYY-MM, UTC; default: the current
month): requests, cache hits, model calls, input and output tokens and model cost, in a
table, JSON (--json) or CSV (--csv), the basis of an invoice. Model calls,
tokens and cost are exact: the spend store's rows (the stack's D1 database,
bound as SPEND, table customer_spend), which the Workers add to on every
model call; its id comes from the stack's outputs (d1_database_ids), read
like the rest. Requests and cache hits are sampled: Analytics Engine's
model-usage data points of the customer, weighed by their _sample_interval:
one per model call and one per edge-cache answer served without one (a
cache hit); a refused or failed request and a job's polls write none. The token needs
D1: Read besides Account Analytics: Read. With --local, the report reads the
stack's running zerocost dev through the same D1 query endpoint (dev serves
it in Cloudflare's shape); dev has no Analytics Engine, so requests and cache hits are n/a.
--plan and --prices do not apply: the spend store holds what each call cost.`

// byCustomerFlags are the flags of a report by customer.
type byCustomerFlags struct {
	month     string
	json, csv bool
	cmd       *cobra.Command
}

func (b *byCustomerFlags) add(cmd *cobra.Command, o *Options) {
	fl := cmd.Flags()
	fl.StringVar(&o.By, "by", "", "report by `customer`: the month's use per product and customer (exact, from the spend store)")
	fl.StringVar(&b.month, "month", "", "with --by customer: the `YYYY-MM` month, UTC (default: the current month)")
	fl.BoolVar(&o.Local, "local", false, "with --by customer: read the stack's running zerocost dev")
	fl.BoolVar(&b.json, "json", false, "print JSON (--format json)")
	fl.BoolVar(&b.csv, "csv", false, "with --by customer: print CSV (--format csv)")
	if f := fl.Lookup("format"); f != nil {
		f.Usage += "; with --by customer: " + strings.Join(cost.CustomerFormats, ", ")
	}
	b.cmd = cmd
}

// format applies --json and --csv to --format.
func (b *byCustomerFlags) format(o *Options) error {
	want := ""
	switch {
	case b.json && b.csv:
		return fmt.Errorf("--json and --csv: give one")
	case b.json:
		want = "json"
	case b.csv:
		want = "csv"
	default:
		return nil
	}
	if b.cmd.Flags().Changed("format") && o.Format != want {
		return fmt.Errorf("--%s and --format %s: give one", want, o.Format)
	}
	o.Format = want
	return nil
}

// checkBill vets the flags of the report of the stack's bill: the flags of
// a report by customer do not apply.
func (b *byCustomerFlags) checkBill(o *Options) error {
	for _, name := range []string{"month", "local", "csv"} {
		if b.cmd.Flags().Changed(name) {
			return fmt.Errorf("--%s goes with --by customer", name)
		}
	}
	return b.format(o)
}

// checkCustomers vets the flags of a report by customer and sets the month
// (now: the current one).
func (b *byCustomerFlags) checkCustomers(o *Options, now time.Time) error {
	if o.By != ByCustomer {
		return fmt.Errorf("--by %q: use --by customer", o.By)
	}
	for _, name := range []string{"since", "until", "plan", "prices"} {
		if b.cmd.Flags().Changed(name) {
			return fmt.Errorf("--%s does not go with --by customer (a report by customer covers one month: --month YYYY-MM)", name)
		}
	}
	if o.Local && b.cmd.Flags().Changed("outputs") {
		return fmt.Errorf("--local reads zerocost dev: --outputs does not apply")
	}
	if err := b.format(o); err != nil {
		return err
	}
	if !slices.Contains(cost.CustomerFormats, o.Format) {
		return fmt.Errorf("--format %q: a report by customer is %s", o.Format, strings.Join(cost.CustomerFormats, ", "))
	}
	if b.month == "" {
		now = now.UTC()
		o.Month = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		return nil
	}
	m, err := time.Parse("2006-01", b.month)
	if err != nil {
		return fmt.Errorf("--month %q is not a month (YYYY-MM)", b.month)
	}
	o.Month = m
	return nil
}
