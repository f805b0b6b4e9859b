// Package resume is `zerocost jobs resume`: it re-queues an async-pipeline
// product's parked jobs through the Worker's POST /admin/jobs/resume.
package resume

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmd/jobs/shared"
	"github.com/zerocost/zerocost/internal/cmdutil"
)

// Options are the inputs of `jobs resume`.
type Options struct {
	shared.Target
	Limit int
}

// NewCmd returns the command; runF replaces the run in tests of flag parsing.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{Target: shared.NewTarget(f)}
	cmd := &cobra.Command{
		Use:   "resume --product NAME",
		Short: "Re-queue a product's parked jobs once its budget allows",
		Long: `Re-queue a product's parked jobs: each goes back on the product's queue, its
status reads queued again, and the consumer runs it under the product's usual
retry policy. While the budget is still spent the Worker refuses (exit 1) and
says when it resets; raise settings.monthlyBudgetUsd and run pulumi up first, or
wait for the month to end.`,
		Example: `  ZEROCOST_AUTH_TOKEN=... zerocost jobs resume --stack prod --product email-worker
  zerocost jobs resume --local --product email-worker --limit 100`,
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(o, &o.Context, func() error { return o.Check("resume", o.Limit) }, runF, Run),
	}
	o.AddFlags(cmd)
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "resume at most this many (0: all)")
	return cmd
}

// Run calls POST /admin/jobs/resume until nothing is left (or --limit is
// reached): the Worker resumes a bounded number of jobs per call (each costs
// it an R2 write and a queue send, within one invocation's limits).
func Run(o *Options) error {
	c, err := o.Connect()
	if err != nil {
		return err
	}
	total, remaining := 0, 0
	for {
		limit := 0
		if o.Limit > 0 {
			limit = o.Limit - total
		}
		res, err := c.Resume(o.Ctx(), limit)
		if err != nil {
			if total > 0 {
				fmt.Fprintf(o.IO.Out, "Resumed %d jobs of %s before the Worker refused.\n", total, o.Product)
			}
			return err
		}
		total += res.Resumed
		remaining = res.Remaining
		if res.Resumed == 0 || remaining == 0 || (o.Limit > 0 && total >= o.Limit) {
			break
		}
	}
	fmt.Fprintf(o.IO.Out, "Resumed %d jobs of %s; %d still parked.\n", total, o.Product, remaining)
	return nil
}
