// Package initcmd is the `zerocost init` command: it starts a stack with one
// product.
package initcmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/names"
	"github.com/zerocost/zerocost/internal/stack"
)

// Options are the command's inputs.
type Options struct {
	F     *cmdutil.Factory
	Stack string
	ProductFlags
	Account string

	// StackInit creates the stack in the project's Pulumi backend (nil:
	// PulumiStackInit). It runs after the file is written.
	StackInit func(ctx context.Context, dir, name string) (done bool, err error)
	Context   context.Context
}

// NewCmd returns the command; runF replaces the run in tests of flag parsing.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Start a stack: write Pulumi.<stack>.yaml with one product",
		Long: `Write Pulumi.<stack>.yaml in the project folder with one product of the
pattern, a starter system prompt to replace, and every setting of the pattern
commented out at its default. It never overwrites a file.

Without --account the file holds a placeholder account id: render, plan and
dev take it; deploy refuses it until zerocost:accountId is set.

When the pulumi CLI is on PATH, init then runs ` + "`pulumi stack init <stack>`" + ` in
the project folder with your Pulumi backend (PULUMI_BACKEND_URL, Pulumi.yaml's
backend, or ` + "`pulumi login`" + `): the stack exists and is selected, and its file
keeps the product and gains the backend's encryption salt.`,
		Example: `  zerocost init --stack mine --pattern edge-cache --product faq
  zerocost init --stack prod --pattern async-pipeline --product mailer --account 0123456789abcdef0123456789abcdef`,
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(opts, &opts.Context, opts.check, runF, Run),
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Stack, "stack", "", "the new stack's `NAME` (required)")
	opts.ProductFlags.Add(cmd)
	fl.StringVar(&opts.Account, "account", "", "your Cloudflare account `ID` (default: a placeholder deploy refuses)")
	return cmd
}

// ProductFlags are a new product's flags, --pattern and --product; init and
// product add share them.
type ProductFlags struct {
	Pattern string
	Product string
}

// Add adds the flags to cmd.
func (p *ProductFlags) Add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.Pattern, "pattern", "", "the product's pattern: "+strings.Join(stack.Patterns, ", ")+" (required)")
	cmd.Flags().StringVar(&p.Product, "product", "", "the product's `NAME` (required)")
}

// Check vets the flags.
func (p ProductFlags) Check() []error {
	pattern, product := p.Pattern, p.Product
	var errs []error
	switch {
	case pattern == "":
		errs = append(errs, fmt.Errorf("--pattern is required: one of %s", strings.Join(stack.Patterns, ", ")))
	case !slices.Contains(stack.Patterns, pattern):
		errs = append(errs, fmt.Errorf("--pattern %q is not a pattern zerocost knows (one of: %s)", pattern, strings.Join(stack.Patterns, ", ")))
	}
	switch {
	case product == "":
		errs = append(errs, errors.New("--product is required: the product's name"))
	case !names.IsProductName(product):
		errs = append(errs, fmt.Errorf("--product %q is not a valid product name: %s", product, names.ProductNameRule))
	}
	return errs
}

func (o *Options) check() error {
	errs := o.ProductFlags.Check()
	if o.Stack == "" {
		errs = append(errs, errors.New("--stack is required: the new stack's name"))
	} else if !names.IsStackName(o.Stack) {
		errs = append(errs, fmt.Errorf("--stack %q is not a valid stack name: %s", o.Stack, names.StackNameRule))
	}
	if o.Account != "" && !names.IsAccountID(o.Account) {
		errs = append(errs, fmt.Errorf("--account %q is not a Cloudflare account id (32 hexadecimal characters)", o.Account))
	}
	return errors.Join(errs...)
}

// Run writes the stack file, then creates the stack in Pulumi.
func Run(o *Options) error {
	dir, err := o.F.Project()
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	data, err := stack.NewStackFile(o.Stack, o.Account, stack.NewProduct{Name: o.Product, Pattern: o.Pattern})
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	path := stack.FilePath(dir, o.Stack)
	// O_EXCL: an existing file is never overwritten, whatever its state.
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return cmdutil.ConfigError(fmt.Errorf("%s exists: init never overwrites a stack; add a product with `zerocost product add --stack %s --pattern %s --product %s`", path, o.Stack, o.Pattern, o.Product))
	}
	if err != nil {
		return err
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	errOut := o.F.IO.ErrOut
	fmt.Fprintf(errOut, "wrote %s: product %s (%s)\n", path, o.Product, o.Pattern)
	stackInit := o.StackInit
	if stackInit == nil {
		stackInit = PulumiStackInit
	}
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}
	// After the file: pulumi stack init keeps the file's config and adds the
	// backend's encryptionsalt to it (written first, the file would lose the salt).
	done, err := stackInit(ctx, dir, o.Stack)
	switch {
	case err != nil:
		fmt.Fprintf(errOut, "pulumi stack init %s failed: %v\n  the file is written; create the stack later with `pulumi stack init %[1]s` (after `pulumi login`)\n", o.Stack, err)
	case done:
		fmt.Fprintf(errOut, "pulumi stack init %s: created and selected in your Pulumi backend\n", o.Stack)
	default:
		fmt.Fprintf(errOut, "no pulumi CLI on PATH: the stack is local until `pulumi stack init %s`\n", o.Stack)
	}
	fmt.Fprintf(o.F.IO.Out, "next: zerocost dev --stack %s\n", o.Stack)
	if o.Account == "" {
		fmt.Fprintf(o.F.IO.Out, "before deploying: pulumi config set zerocost:accountId <your account id> --stack %s\n", o.Stack)
	}
	return nil
}

// stackInitTimeout bounds `pulumi stack init`, which writes one stack record
// to the backend (measured: under 1 s on a file:// backend).
const stackInitTimeout = 2 * time.Minute

// PulumiStackInit runs `pulumi stack init NAME` in dir when the pulumi CLI
// is on PATH; done is false when it is not.
func PulumiStackInit(ctx context.Context, dir, name string) (bool, error) {
	bin, err := exec.LookPath("pulumi")
	if err != nil {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, stackInitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "stack", "init", name, "--non-interactive")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PULUMI_SKIP_UPDATE_CHECK=true")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return false, fmt.Errorf("%v: %s", err, strings.TrimSpace(out.String()))
	}
	return true, nil
}
