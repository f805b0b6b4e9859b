// Package shared holds what the verbs of `zerocost cost` (forecast, report,
// diff) and `zerocost status` share: their format and plan flags, the
// signal-aware context, and where a deployed stack's outputs come from.
package shared

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/cost/stackinput"
	"github.com/zerocost/zerocost/prices"
)

// Environment variables the commands that read Cloudflare's API use.
const (
	EnvAPIToken = cfapi.EnvToken
	EnvAPIURL   = cfapi.EnvBaseURL
)

// AddFormatFlags adds --format (one of formats, the first the default) and
// --prices.
func AddFormatFlags(cmd *cobra.Command, format, priceFile *string, formats []string) {
	cmd.Flags().StringVar(format, "format", formats[0], "output format: "+strings.Join(formats, ", "))
	cmd.Flags().StringVar(priceFile, "prices", "", "price `FILE` to use instead of the embedded "+prices.CurrentPath)
}

// CheckFormat vets --format and --plan ("" is the default plan).
func CheckFormat(format string, formats []string, plan string) error {
	if !slices.Contains(formats, format) {
		return fmt.Errorf("--format %q: use %s", format, strings.Join(formats, ", "))
	}
	if plan != "" && plan != cost.Free && plan != cost.Paid {
		return fmt.Errorf("--plan %q: use free (Workers Free) or paid (Workers Paid)", plan)
	}
	return nil
}

// Context is the command's context, cancelled by Ctrl-C or SIGTERM, so
// that an API call or a git read stops with the command.
func Context(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// Start begins a verb's run: its signal-aware context (stop it when the run
// ends) and the price file (--prices, else the embedded one). A price file
// that does not load is a configuration error.
func Start(ctx context.Context, priceFile string) (context.Context, context.CancelFunc, *cost.Prices, error) {
	prices, err := cost.LoadPrices(priceFile)
	if err != nil {
		return nil, func() {}, nil, cmdutil.ConfigError(err)
	}
	ctx, stop := Context(ctx)
	return ctx, stop, prices, nil
}

// ProjectUsage finds the project folder and turns --usage (relative to the
// working directory) into a path relative to it, as stackinput reads files.
func ProjectUsage(project func() (string, error), usage string) (dir, rel string, err error) {
	if dir, err = project(); err != nil {
		return "", "", cmdutil.ConfigError(err)
	}
	if rel, err = stackinput.Rel(dir, usage); err != nil {
		return "", "", cmdutil.ConfigError(err)
	}
	return dir, rel, nil
}

// Pricing is what the verbs that forecast (`cost forecast`, `cost diff`)
// take: they embed it in their Options.
type Pricing struct {
	IO *cmdutil.IOStreams
	// Project finds the project folder.
	Project func() (string, error)
	Ctx     context.Context
	f       *cmdutil.Factory
	// StackOptional: --stack is used only when given (no default stack).
	StackOptional bool

	Stack  string
	Usage  string
	Plan   string
	Format string
	Prices string
}

// NewPricing takes the factory's dependencies.
func NewPricing(f *cmdutil.Factory) Pricing { return Pricing{IO: f.IO, Project: f.Project, f: f} }

// AddFlags adds --stack, --usage, --plan, --format and --prices.
func (p *Pricing) AddFlags(cmd *cobra.Command, usageHelp, planHelp string, formats []string) {
	if p.StackOptional {
		cmd.Flags().StringVar(&p.Stack, "stack", "", "the stack whose Pulumi.<stack>.yaml to read (none unless given)")
	} else {
		p.f.AddStackFlag(cmd, &p.Stack, cmdutil.Local) // reads the stack file only
	}
	cmd.Flags().StringVar(&p.Usage, "usage", "", usageHelp)
	cmd.Flags().StringVar(&p.Plan, "plan", "", planHelp)
	AddFormatFlags(cmd, &p.Format, &p.Prices, formats)
}
