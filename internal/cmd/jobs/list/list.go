// Package list is `zerocost jobs list`: an async-pipeline product's parked
// jobs, through the Worker's GET /admin/jobs.
package list

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmd/jobs/shared"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/contract"
)

// Options are the inputs of `jobs list`.
type Options struct {
	shared.Target
	Status string
	Limit  int
	JSON   bool
}

// pageMax is the most jobs one call asks for: GET /admin/jobs serves at
// most 1,000 a page (LIST_MAX, workers-src/src/patterns/async-pipeline/admin.ts).
const pageMax = 1000

// NewCmd returns the command; runF replaces the run in tests of flag parsing.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{Target: shared.NewTarget(f)}
	cmd := &cobra.Command{
		Use:   "list --product NAME",
		Short: "List a product's parked jobs (status budget_exhausted)",
		Example: `  ZEROCOST_AUTH_TOKEN=... zerocost jobs list --stack prod --product email-worker
  zerocost jobs list --local --product email-worker --json`,
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(o, &o.Context, func() error { return o.Check("list", o.Limit) }, runF, Run),
	}
	o.AddFlags(cmd)
	cmd.Flags().StringVar(&o.Status, "status", string(contract.JobBudgetExhausted), "the status to list (the Worker lists parked jobs: budget_exhausted)")
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "list at most this many (0: all)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the jobs as JSON")
	return cmd
}

// Run lists the jobs, page by page.
func Run(o *Options) error {
	c, err := o.Connect()
	if err != nil {
		return err
	}
	jobs, err := o.fetch(o.Ctx(), c)
	if err != nil {
		return err
	}
	if o.JSON {
		if jobs == nil {
			jobs = []shared.Job{}
		}
		enc := json.NewEncoder(o.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"product": o.Product, "status": o.Status, "jobs": jobs})
	}
	if len(jobs) == 0 {
		fmt.Fprintf(o.IO.Out, "%s has no jobs with status %s.\n", o.Product, o.Status)
		return nil
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB ID\tSTATUS\tPARKED AT\tCUSTOMER\tINPUT\tERROR")
	for _, j := range jobs {
		customer := j.Customer
		if customer == "" {
			customer = "-" // a public product's job
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d chars\t%s\n", j.JobID, j.Status, j.ParkedAt, customer, j.InputChars, j.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "%d jobs of %s with status %s. Resume them with: zerocost jobs resume --stack %s --product %s\n",
		len(jobs), o.Product, o.Status, o.Stack, o.Product)
	return nil
}

// fetch follows the cursor until the last page, or --limit.
func (o *Options) fetch(ctx context.Context, c *shared.Client) ([]shared.Job, error) {
	var jobs []shared.Job
	cursor := ""
	for {
		limit := 0
		if o.Limit > 0 {
			limit = min(o.Limit-len(jobs), pageMax)
		}
		page, err := c.List(ctx, o.Status, cursor, limit)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, page.Jobs...)
		if page.Cursor == nil || *page.Cursor == "" || len(page.Jobs) == 0 || (o.Limit > 0 && len(jobs) >= o.Limit) {
			break
		}
		cursor = *page.Cursor
	}
	if o.Limit > 0 && len(jobs) > o.Limit {
		jobs = jobs[:o.Limit]
	}
	return jobs, nil
}
