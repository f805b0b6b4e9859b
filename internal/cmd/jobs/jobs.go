// Package jobs is `zerocost jobs`: its verbs (list, resume: one package
// each) list an async-pipeline product's parked jobs and resume them,
// through the Worker's admin routes
// (GET /admin/jobs, POST /admin/jobs/resume; workers-src/README.md, "Spend
// guard"). A job is parked when the product's monthly model budget is spent:
// its input is kept durably instead of waiting in a queue that forgets after
// 24 hours, and `resume` re-queues it once the budget allows.
package jobs

import (
	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmd/jobs/list"
	"github.com/zerocost/zerocost/internal/cmd/jobs/resume"
	"github.com/zerocost/zerocost/internal/cmdutil"
)

// NewCmd returns `zerocost jobs` and its verbs.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List and resume an async-pipeline product's parked jobs",
		Long: `When an async-pipeline product's monthly model budget is spent
(settings.monthlyBudgetUsd, or the stack's zerocost:monthlyBudgetUsd), its queue
consumer parks each job instead of calling the model: the job's status reads
budget_exhausted and its input is kept in the stack's spend database, not in the
queue (which forgets after 24 hours). Nothing is lost and nothing is dead-lettered.

  list    the product's parked jobs
  resume  re-queue them, once the budget allows (a new month, or a raised budget
          deployed with pulumi up)

Both call the Worker's admin routes, which need the stack's zerocost:authToken:
set ZEROCOST_AUTH_TOKEN to it. With --local they call the stack's running
` + "`zerocost dev`" + `; otherwise the deployed Worker (its URL from --outputs, the pulumi
CLI, or the plan).`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(list.NewCmd(f, nil), resume.NewCmd(f, nil))
	return cmd
}
