// Package diff is `zerocost cost diff`: what a change of a stack or of its
// usage profile costs or saves a month.
package diff

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmd/cost/shared"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/cost/stackinput"
)

// Options are the command's inputs.
type Options struct {
	shared.Pricing
	// Base is a git revision, or a folder holding the base's files.
	Base string
}

// NewCmd returns `zerocost cost diff`; runF replaces its run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{Pricing: shared.NewPricing(f)}
	cmd := &cobra.Command{
		Use:   "diff --stack NAME --base REF [--usage FILE]",
		Short: "What a change of the stack or its usage profile costs a month",
		Long: `Forecast the stack twice, the base and the head, and print what changed
per product: the model, infrastructure and total cost a month, the
free-tier capacity (requests a day at $0, and the headroom over the
forecast's traffic) and its first limit; the warnings added or removed; the
budgets against the forecast; and one line saying what the change costs or
saves a month.

The head is the working tree. The base is --base: a git revision (its files
are read with git show REV:path) or a folder holding a copy of the
project's files. Each side reads its Pulumi.<stack>.yaml and its usage
profile: --usage FILE, else the stack's zerocost:usageProfile (a base whose
stack names none reads the head's profile path). Both are
priced on one plan (--plan, else the head profile's) with one price file.
No Cloudflare credentials are needed.`,
		Example: "  zerocost cost diff --stack demo --base origin/main --format markdown\n" +
			"  zerocost cost diff --stack demo --base HEAD~1 --usage examples/usage/demo.toml",
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(o, &o.Ctx, func() error {
			if o.Base == "" {
				return errors.New("--base is required: a git revision (main, HEAD~1) or a folder holding the base's files")
			}
			return shared.CheckFormat(o.Format, cost.DiffFormats, o.Plan)
		}, runF, Run),
	}
	cmd.Flags().StringVar(&o.Base, "base", "", "the base: a git `REF`, or a folder of files (required)")
	o.AddFlags(cmd, "usage profile `FILE` (TOML), read on both sides (default: each side's zerocost:usageProfile)",
		"free or paid (default: the head profile's plan)", cost.DiffFormats)
	return cmd
}

// Run forecasts both sides and prints their diff.
func Run(o *Options) error {
	ctx, stop, prices, err := shared.Start(o.Ctx, o.Prices)
	defer stop()
	if err != nil {
		return err
	}
	dir, usage, err := shared.ProjectUsage(o.Project, o.Usage)
	if err != nil {
		return err
	}
	var base stackinput.Tree = stackinput.Git{Dir: dir, Ref: o.Base}
	if st, err := os.Stat(o.Base); err == nil && st.IsDir() {
		base = stackinput.Files{Dir: o.Base}
	}
	head := stackinput.Dir(dir)
	hin, err := stackinput.Load(ctx, head, o.Stack, usage)
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	bin, err := stackinput.Load(ctx, base, o.Stack, usage)
	if errors.Is(err, stackinput.ErrNoProfile) {
		// A base from before the stack named its profile: price the
		// head's profile as it was at the base.
		bin, err = stackinput.Load(ctx, base, o.Stack, hin.Profile.Path)
	}
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	plan := o.Plan
	if plan == "" {
		plan = hin.Profile.Plan
	}
	rb, err := cost.Forecast(bin.Profile, prices, plan)
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	rh, err := cost.Forecast(hin.Profile, prices, plan)
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	d := cost.Compare(rb, rh)
	d.Stack, d.Base, d.Head = o.Stack, base.String(), head.String()
	return cost.WriteDiff(o.IO.Out, d, o.Format)
}
