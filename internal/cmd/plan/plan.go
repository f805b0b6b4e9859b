// Package plan is the `zerocost plan` command.
package plan

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/contract"
	zplan "github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/stack"
)

// Options are the command's inputs.
type Options struct {
	F     *cmdutil.Factory
	Stack string
	JSON  bool
}

// NewCmd returns the command; runF replaces the run in tests of flag parsing.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print what a stack deploys",
		Long: `Print the plan of a stack: every product's Worker script, R2 bucket,
queues and consumers, routes, and bindings (secrets by config key only).

The plan is built by rendering each product's wrangler config and parsing it
back; the Pulumi program, the local runtime, verify and cost all read it.`,
		Example: "  zerocost plan --stack demo\n  zerocost plan --stack demo --json | jq '.products[].script'",
		Args:    cobra.NoArgs,
		RunE:    cmdutil.RunE(opts, nil, nil, runF, Run),
	}
	f.AddStackFlag(cmd, &opts.Stack, cmdutil.Local)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the plan as JSON")
	return cmd
}

// Run prints the plan.
func Run(o *Options) error {
	l, err := o.F.Load(o.Stack)
	if err != nil {
		return err
	}
	// On stderr, so that --json stays one document.
	for _, w := range l.Plan.Warnings() {
		fmt.Fprintf(o.F.IO.ErrOut, "zerocost plan: warning: %s\n", w)
	}
	if o.JSON {
		enc := json.NewEncoder(o.F.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(l.Plan)
	}
	return Print(o.F.IO.Out, l.Plan)
}

// Print writes a readable summary of the plan.
func Print(w interface{ Write([]byte) (int, error) }, p *zplan.Plan) error {
	fmt.Fprintf(w, "stack %s, account %s: %d products\n", p.Stack, p.AccountID, len(p.Products))
	if p.SpendDatabase != nil {
		limit := "no stack cap (product budgets only)"
		if !anyProductBudget(p) {
			limit = "no stack cap or product budget (customer budgets only, set by zerocost keys create --monthly-budget-usd)"
		}
		if p.MonthlyBudgetUSD > 0 {
			limit = "stack cap $" + stack.FormatUSD(p.MonthlyBudgetUSD) + " a month, all products together"
		}
		fmt.Fprintf(w, "spend guard: %s; spend counted in D1 database %s\n", limit, p.SpendDatabase.Name)
	}
	for _, pr := range p.Products {
		fmt.Fprintf(w, "\n%s (%s, %s)\n", pr.Name, pr.Pattern, pr.Model)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  script\t%s\n", pr.Script)
		if pr.URL != "" {
			fmt.Fprintf(tw, "  url\t%s\n", pr.URL)
		}
		for _, b := range pr.R2Buckets {
			fmt.Fprintf(tw, "  r2 bucket\t%s\t(%s)\n", b.Name, b.Binding)
		}
		for _, q := range pr.Queues {
			kind := "queue"
			if q.DeadLetter {
				kind = "dead-letter queue"
			}
			fmt.Fprintf(tw, "  %s\t%s\n", kind, q.Name)
		}
		for _, c := range pr.Consumers {
			dlq := ""
			if c.DeadLetterQueue != "" {
				dlq = ", then " + c.DeadLetterQueue
			}
			fmt.Fprintf(tw, "  consumer\t%s\tbatch %d, wait %d s, %d retries%s\n", c.Queue, c.BatchSize, c.BatchTimeoutSeconds, c.MaxRetries, dlq)
		}
		for _, r := range pr.Routes {
			kind := "route"
			if r.CustomDomain {
				kind = "custom domain"
			}
			fmt.Fprintf(tw, "  %s\t%s\n", kind, r.Pattern)
		}
		if len(pr.Crons) > 0 {
			fmt.Fprintf(tw, "  crons\t%s\n", strings.Join(pr.Crons, ", "))
		}
		if p.SpendDatabase != nil {
			fmt.Fprintf(tw, "  budget\t%s\n", budgetLine(pr))
		}
		var bs []string
		for _, b := range pr.Bindings {
			if b.Type != zplan.PlainText {
				bs = append(bs, b.Name+" ("+string(b.Type)+")")
			}
		}
		fmt.Fprintf(tw, "  bindings\t%s\n", strings.Join(bs, ", "))
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if missing := p.MissingSecrets(); len(missing) > 0 {
		fmt.Fprintf(w, "\nnot set yet (needed by `pulumi up`): %s\n", strings.Join(missing, ", "))
	}
	return nil
}

// budgetLine says a product's budget, its alert thresholds and whether an
// alert webhook is set (never its URL: it may carry a token).
// anyProductBudget says whether a product of the plan has a budget of its own.
func anyProductBudget(p *zplan.Plan) bool {
	for _, pr := range p.Products {
		if pr.Settings.MonthlyBudgetUSD > 0 {
			return true
		}
	}
	return false
}

func budgetLine(pr zplan.Product) string {
	b := "none of its own (counts toward the stack cap)"
	if pr.Access == stack.AccessKeys {
		b = "none of its own (counts toward the stack cap); customers' budgets from their keys"
	}
	if v := pr.Settings.MonthlyBudgetUSD; v > 0 {
		b = "$" + stack.FormatUSD(v) + " a month"
	}
	alerts := "no alert webhook"
	if wb := pr.Binding(contract.BudgetAlertWebhook); wb != nil {
		alerts = "alerts at " + strings.ReplaceAll(pr.Var(contract.VarBudgetAlertThresholds), ",", ", ") + " percent to the webhook of " + wb.Target
	}
	return b + "; " + alerts
}
