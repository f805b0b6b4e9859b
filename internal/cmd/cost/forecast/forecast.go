// Package forecast is `zerocost cost forecast`: it prices a usage profile,
// against a stack when one is given.
package forecast

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmd/cost/shared"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/cost/stackinput"
)

// Options are the command's inputs.
type Options struct {
	shared.Pricing
	// WithStack is set when --stack was given: the stack then says what
	// each product is and the profile gives only traffic.
	WithStack bool
}

// NewCmd returns `zerocost cost forecast`; runF replaces its run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{Pricing: shared.NewPricing(f)}
	cmd := &cobra.Command{
		Use:   "forecast [--stack NAME] [--usage FILE]",
		Short: "Price a usage profile before you deploy",
		Long: `Price a month of traffic described by a usage profile (TOML).

With --stack, the stack says what each product is (pattern, model, model
mode, budgets, batch size) and the profile gives only the traffic; without
--usage the stack's zerocost:usageProfile is priced. A profile key that
restates the stack is accepted while it agrees, else it is an error naming
the key; the stack's products the profile omits are priced with no traffic.
Without --stack the profile describes its products fully (a what-if before
a stack exists):

  plan = "free"                  # or "paid"; --plan overrides
  days = 30                      # days in the month
  [[product]]
  name = "ai-relay"
  pattern = "edge-cache"         # the stack's (event-agent | async-pipeline | edge-cache)
  model = "claude-haiku-4-5"     # the stack's
  requests = 48000               # per month: jobs, or questions for edge-cache
  input_tokens = 400             # average per model call
  output_tokens = 100
  cache_hit_rate = 0.62          # edge-cache only
  result_bytes = 2000            # average stored result

Optional per product: cached_prefix_tokens (for the prompt-caching lever),
cpu_ms (2), polls_per_job (2, event-agent and async-pipeline), retry_rate,
dead_letter_rate and messages_per_batch (async-pipeline), model_mode
("batch": the Message Batches API at half price; with batch_poll_minutes and
batch_hours), monthly_budget_usd (the product's model budget: the forecast
says on which day it runs out), access ("keys", the default, or "public")
with customers (10) and isolates (3): a keyed product reads a customer's key
from KV at most once a minute per isolate. Top level: monthly_budget_usd (caps
all products together). With a stack, model, pattern, model_mode, access,
batch_poll_minutes and the budgets are the stack's, and messages_per_batch
defaults to its batchSize (a delivery past the packs one invocation runs
sends the rest on: pack_pass_on). R2 storage is what the
stack's lifecycle rules keep (the settings' defaults without a stack): job
records settings.retentionDays (7; dead ones also 31 days under held/), answers their cache TTL in whole days,
each plus the day R2's deletion may lag. docs/cost.md lists what each pattern does per request. Unknown
keys are errors.

On Workers Free every daily limit is checked against the account's total (the
month spread evenly over its days); exactly the limit passes.`,
		Example: "  zerocost cost forecast --stack demo\n" +
			"  zerocost cost forecast --stack demo --usage examples/usage/demo.toml --plan paid --format markdown",
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(o, &o.Ctx, func() error {
			if !o.WithStack && o.Usage == "" {
				return errors.New("--usage or --stack is required: the usage profile to price, or the stack whose zerocost:usageProfile to price (see examples/usage/demo.toml)")
			}
			return shared.CheckFormat(o.Format, cost.Formats, o.Plan)
		}, runF, Run),
	}
	o.StackOptional = true // without --stack the profile alone is priced
	o.AddFlags(cmd, "usage profile `FILE` (TOML) to price (default: the stack's zerocost:usageProfile)",
		"free or paid (default: the profile's plan)", cost.Formats)
	cmd.PreRun = func(c *cobra.Command, _ []string) { o.WithStack = c.Flags().Changed("stack") }
	return cmd
}

// Run prices the profile.
func Run(o *Options) error {
	ctx, stop, prices, err := shared.Start(o.Ctx, o.Prices)
	defer stop()
	if err != nil {
		return err
	}
	var tree stackinput.Tree = stackinput.Dir("")
	stackName, usage := "", o.Usage
	if o.WithStack {
		dir, rel, err := shared.ProjectUsage(o.Project, o.Usage)
		if err != nil {
			return err
		}
		tree, stackName, usage = stackinput.Dir(dir), o.Stack, rel
	}
	in, err := stackinput.Load(ctx, tree, stackName, usage)
	if err != nil && !o.WithStack {
		err = fmt.Errorf("%w\n(a profile that gives only traffic is priced with --stack NAME: the stack says what each product is)", err)
	}
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	if o.Usage != "" {
		in.Profile.Path = o.Usage
	}
	for _, name := range in.Profile.NoTraffic {
		fmt.Fprintf(o.IO.ErrOut, "note: %s has no traffic for %s of stack %s: it is priced with none\n", in.Profile.Path, name, o.Stack)
	}
	r, err := cost.Forecast(in.Profile, prices, o.Plan)
	if err != nil {
		return cmdutil.ConfigError(fmt.Errorf("%s: %w", in.Profile.Path, err))
	}
	return cost.Write(o.IO.Out, r, o.Format)
}
