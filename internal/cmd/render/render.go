// Package render is the `zerocost render` command.
package render

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/bundle"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/render"
)

// Options are the command's inputs.
type Options struct {
	F        *cmdutil.Factory
	Stack    string
	Out      string
	NoMinify bool
}

// NewCmd returns the command; runF replaces the run in tests of flag parsing.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write each product's wrangler.toml and bundled worker.js",
		Long: `Render every product of a stack into OUT/<product>/wrangler.toml and
OUT/<product>/worker.js (the Worker bundled with esbuild, hooks included).

Secrets are never written: the configs name them in a comment only.`,
		Example: "  zerocost render --stack demo --out dist",
		Args:    cobra.NoArgs,
		RunE:    cmdutil.RunE(opts, nil, opts.check, runF, Run),
	}
	f.AddStackFlag(cmd, &opts.Stack, cmdutil.Local)
	cmd.Flags().StringVar(&opts.Out, "out", "", "folder to write <product>/wrangler.toml and <product>/worker.js to (required)")
	cmd.Flags().BoolVar(&opts.NoMinify, "no-minify", false, "write readable, unminified Workers")
	return cmd
}

func (o *Options) check() error {
	if o.Out == "" {
		return errors.New("--out is required: the folder to write the products to")
	}
	return nil
}

// Run renders and bundles every product.
func Run(o *Options) error {
	l, err := o.F.Load(o.Stack)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(o.F.IO.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "PRODUCT\tPATTERN\tWORKER.JS\tWRANGLER.TOML\n")
	for i := range l.Plan.Products {
		pr := &l.Plan.Products[i]
		b, err := bundle.Product(pr, l.ProjectDir, bundle.Options{NoMinify: o.NoMinify})
		if err != nil {
			return err
		}
		dir := filepath.Join(o.Out, pr.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "wrangler.toml"), pr.WranglerTOML, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, render.MainModule), b.Code, 0o644); err != nil {
			return err
		}
		note := ""
		if len(b.Code) > bundle.SizeGoal {
			note = " (over the 25 KB goal)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f KB%s\t%s\n", pr.Name, pr.Pattern, float64(len(b.Code))/1024, note, filepath.Join(dir, "wrangler.toml"))
	}
	return tw.Flush()
}
