// Package root assembles the zerocost command tree.
package root

import (
	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmd/cost"
	"github.com/zerocost/zerocost/internal/cmd/deploy"
	"github.com/zerocost/zerocost/internal/cmd/dev"
	initcmd "github.com/zerocost/zerocost/internal/cmd/init"
	"github.com/zerocost/zerocost/internal/cmd/jobs"
	"github.com/zerocost/zerocost/internal/cmd/keys"
	"github.com/zerocost/zerocost/internal/cmd/plan"
	"github.com/zerocost/zerocost/internal/cmd/product"
	"github.com/zerocost/zerocost/internal/cmd/render"
	"github.com/zerocost/zerocost/internal/cmd/status"
	"github.com/zerocost/zerocost/internal/cmd/verify"
	"github.com/zerocost/zerocost/internal/cmdutil"
)

// Version is set at build time with -ldflags "-X .../root.Version=...".
var Version = "dev"

// NewCmd returns the root command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "zerocost",
		Short: "Run AI products on Cloudflare's free tier: render, run, verify, cost and deploy",
		Long: `zerocost turns a Pulumi stack's list of AI products into Cloudflare Workers
built on three patterns (event-agent, async-pipeline, edge-cache), and renders,
runs, verifies, prices and deploys them.

The products live in Pulumi.<stack>.yaml under the zerocost: namespace;
every command takes --stack; without it, the stack selected in Pulumi
(` + "`pulumi stack select`" + `), and for render, plan, dev and verify --local also
the project's only stack file. Start a stack with zerocost init.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.PersistentFlags().StringVar(&f.ProjectDir, "project-dir", "", "project folder holding Pulumi.yaml (default: search upwards from the working directory)")
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return cmdutil.ConfigError(err) })
	cmd.AddCommand(initcmd.NewCmd(f, nil), product.NewCmd(f, nil))
	cmd.AddCommand(render.NewCmd(f, nil), plan.NewCmd(f, nil), cost.NewCmd(f), status.NewCmd(f, nil), dev.NewCmd(f, nil), verify.NewCmd(f, nil), deploy.NewCmd(f, nil), jobs.NewCmd(f), keys.NewCmd(f))
	usageArgs(cmd)
	return cmd
}

// usageArgs makes argument errors (a stray positional argument, a missing one)
// usage errors, exit code 2, like flag errors.
func usageArgs(cmd *cobra.Command) {
	if cmd.Args != nil {
		args := cmd.Args
		cmd.Args = func(c *cobra.Command, a []string) error {
			if err := args(c, a); err != nil {
				return cmdutil.ConfigError(err)
			}
			return nil
		}
	}
	for _, c := range cmd.Commands() {
		usageArgs(c)
	}
}
