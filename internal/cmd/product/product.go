// Package product is the `zerocost product` command: `product add` adds a
// product to an existing stack file.
package product

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	initcmd "github.com/zerocost/zerocost/internal/cmd/init"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/stack"
)

// Options are `product add`'s inputs.
type Options struct {
	F     *cmdutil.Factory
	Stack string
	initcmd.ProductFlags
}

// NewCmd returns the command; runF replaces the run of `product add` in
// tests of flag parsing.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "product",
		Short: "Add a product to a stack",
		Args:  cobra.NoArgs,
	}
	opts := &Options{F: f}
	add := &cobra.Command{
		Use:   "add",
		Short: "Add a product to an existing Pulumi.<stack>.yaml",
		Long: `Add a product of a pattern to a stack's Pulumi.<stack>.yaml, with a starter
system prompt to replace and every setting of the pattern commented out at its
default. The rest of the file keeps its values and comments (the file is
re-encoded with two-space indentation). To start a stack, use zerocost init.`,
		Example: "  zerocost product add --stack mine --pattern async-pipeline --product digest",
		Args:    cobra.NoArgs,
		RunE: cmdutil.RunE(opts, nil, func() error {
			return errors.Join(opts.ProductFlags.Check()...)
		}, runF, Add),
	}
	f.AddStackFlag(add, &opts.Stack, cmdutil.Local)
	opts.ProductFlags.Add(add)
	cmd.AddCommand(add)
	return cmd
}

// Add adds the product to the stack file.
func Add(o *Options) error {
	dir, err := o.F.Project()
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	path := stack.FilePath(dir, o.Stack)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cmdutil.ConfigError(fmt.Errorf("%s does not exist: start the stack with `zerocost init --stack %s --pattern %s --product %s`", path, o.Stack, o.Pattern, o.Product))
	}
	if err != nil {
		return err
	}
	out, err := stack.AddProduct(o.Stack, data, stack.NewProduct{Name: o.Product, Pattern: o.Pattern})
	if err != nil {
		return cmdutil.ConfigError(fmt.Errorf("%s: %w", path, err))
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, out, info.Mode().Perm()); err != nil {
		return err
	}
	fmt.Fprintf(o.F.IO.ErrOut, "added product %s (%s) to %s\n", o.Product, o.Pattern, path)
	return nil
}
