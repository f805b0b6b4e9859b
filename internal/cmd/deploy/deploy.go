// Package deploy is the `zerocost deploy` command: it deploys a stack with
// the Pulumi program in infra/ (through the `pulumi` CLI, as `pulumi up`
// does), verifies it, and rolls the Workers back when verification fails.
// The engine is package internal/deploy.
package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/deploy"
	"github.com/zerocost/zerocost/internal/stack"
	zverify "github.com/zerocost/zerocost/internal/verify"
)

// Options are the command's inputs.
type Options struct {
	F          *cmdutil.Factory
	Stack      string
	Yes        bool
	Refresh    bool
	SkipVerify bool
	SkipRoutes bool
	NoRollback bool
	JSON       bool
	JUnit      string
	Usage      string

	// Context is the command's context: the root's, which SIGINT, SIGTERM
	// and SIGHUP cancel (root.Signals); the deploy then interrupts pulumi.
	Context context.Context

	// Test hooks (no flags); nil means the real thing.
	lookPath   func(string) (string, error)
	isTerminal func() bool
	open       func(ctx context.Context, stack, projectDir string) (deploy.Runner, error)
	verify     verifyFunc
}

// NewCmd returns the command; runF replaces the run in tests of flag parsing.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy a stack with Pulumi, verify it, and roll its Workers back if verification fails",
		Long: `Deploy a stack: the same Pulumi program as ` + "`pulumi up`" + ` (Pulumi.yaml's
main: infra/), driven through the pulumi CLI, then verified.

  1. preflight  the pulumi CLI, a Pulumi backend login (PULUMI_ACCESS_TOKEN,
                PULUMI_BACKEND_URL or ` + "`pulumi login`" + `), the secrets passphrase
                when the stack uses one, and a Cloudflare API token
                (CLOUDFLARE_API_TOKEN or the stack's cloudflare:apiToken)
  2. refresh    with --refresh: read every resource's state from Cloudflare
  3. preview    the changes; with --usage FILE, the monthly cost forecast of
                that usage profile before and after the deploy
  4. confirm    unless --yes; when stdin is not a terminal, --yes is required
  5. snapshot   record the versions each of the stack's Workers serves
  6. up         deploy
  7. verify     the checks of ` + "`zerocost verify`" + ` against the new outputs
  8. rollback   when verification fails: every Worker whose active version
                the deploy changed is deployed at its previous versions again
                (Workers the deploy created cannot be, and are reported), and
                verification runs again. R2 buckets and queues are never
                rolled back or deleted.

Progress goes to stdout; --json prints one JSON event per line instead
(schema: docs/ci.md). When the stack sets zerocost:authToken, verification
uses ZEROCOST_AUTH_TOKEN, else the stack's decrypted value.

Exit status: 0 when deployed (and verified, unless --skip-verify) or already
up to date; 1 when a phase failed, the deploy was declined or verification
failed (rolled back or not); 2 for a usage or environment problem found
before anything was changed.`,
		Example: `  zerocost deploy --stack demo
  zerocost deploy --stack prod --yes --junit reports/verify.xml
  zerocost deploy --stack prod --yes --json | jq -c 'select(.type=="result")'`,
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(opts, &opts.Context, opts.check, runF, Run),
	}
	f.AddStackFlag(cmd, &opts.Stack, cmdutil.Deployed)
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "deploy without asking (required when stdin is not a terminal)")
	fl.BoolVar(&opts.Refresh, "refresh", false, "refresh the stack's state from Cloudflare before the preview")
	fl.BoolVar(&opts.SkipVerify, "skip-verify", false, "do not verify after up (and so never roll back)")
	fl.BoolVar(&opts.SkipRoutes, "skip-routes", false, "verify the resources only, not the Workers' routes (Workers this machine cannot reach)")
	fl.BoolVar(&opts.NoRollback, "no-rollback", false, "when verification fails, leave the new Worker versions in place")
	fl.BoolVar(&opts.JSON, "json", false, "print one JSON event per line (schema: docs/ci.md)")
	fl.StringVar(&opts.JUnit, "junit", "", "write verification's JUnit XML to this `FILE` (after a rollback, the second run goes to FILE with -after-rollback before its extension)")
	fl.StringVar(&opts.Usage, "usage", "", "usage profile (TOML, as for zerocost cost forecast) whose monthly cost to forecast before and after the deploy")
	return cmd
}

func (o *Options) check() error {
	if o.SkipVerify && o.JUnit != "" {
		return errors.New("--junit writes verification's report, and --skip-verify skips verification: drop one")
	}
	if o.SkipVerify && o.SkipRoutes {
		return errors.New("--skip-routes narrows verification, and --skip-verify skips it: drop one")
	}
	return nil
}

// Run deploys the stack.
func Run(o *Options) error {
	// A fully qualified stack (org/name) keeps its config in Pulumi.<name>.yaml.
	short := o.Stack[strings.LastIndex(o.Stack, "/")+1:]
	l, err := o.F.Load(short)
	if err != nil {
		return err
	}
	if missing := l.Plan.MissingSecrets(); len(missing) > 0 {
		var errs []error
		if l.Config.AccountID == stack.PlaceholderAccountID { // also the preflight's; said here with the secrets
			errs = append(errs, stack.PlaceholderAccountError(filepath.Base(stack.FilePath(l.ProjectDir, short))))
		}
		for _, k := range missing {
			errs = append(errs, fmt.Errorf("%s is not set: `pulumi config set --secret %s <value> --stack %s`", k, k, o.Stack))
		}
		return cmdutil.ConfigError(errors.Join(errs...))
	}
	apiURL, err := cfapi.ResolveBaseURL("", "", o.F.Env)
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}

	var sink deploy.Sink = &deploy.TextSink{W: o.F.IO.Out}
	if o.JSON {
		sink = &deploy.JSONSink{W: o.F.IO.Out}
	}
	cfg := deploy.Config{
		Stack:           o.Stack,
		Yes:             o.Yes,
		Interactive:     o.interactive(),
		Refresh:         o.Refresh,
		SkipVerify:      o.SkipVerify,
		NoRollback:      o.NoRollback,
		CloudflareToken: o.F.Env(deploy.EnvCloudflareToken),
	}
	for _, pr := range l.Plan.Products {
		cfg.Scripts = append(cfg.Scripts, pr.Script)
		cfg.Products = append(cfg.Products, pr.Name)
	}
	if zverify.NeedsAuthToken(l.Plan) {
		cfg.AuthToken = o.F.Env(cmdutil.EnvAuthToken)
		cfg.AuthTokenKey = stack.Namespace + ":" + stack.KeyAuthToken
	}
	lookPath := o.lookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	open := o.open
	if open == nil {
		open = func(ctx context.Context, name, dir string) (deploy.Runner, error) {
			return deploy.OpenCLI(ctx, name, dir, nil)
		}
	}
	var forecaster deploy.CostForecaster = deploy.NoForecast{}
	if o.Usage != "" {
		forecaster = costForecaster{path: o.Usage, facts: cost.FactsOf(l.Config)}
	}
	deps := deploy.Deps{
		Preflight: func(context.Context) error {
			return deploy.Preflight(deploy.Machine{Getenv: o.F.Env, LookPath: lookPath, ProjectDir: l.ProjectDir, StackFile: stack.FilePath(l.ProjectDir, short)})
		},
		Open: func(ctx context.Context) (deploy.Runner, error) { return open(ctx, o.Stack, l.ProjectDir) },
		NewVerifier: func(c deploy.Credentials) (deploy.Verifier, error) {
			return &verifier{plan: l.Plan, creds: c, hc: o.F.Client(), apiURL: apiURL, junit: o.JUnit, sink: sink, run: o.verify, skipRoutes: o.SkipRoutes}, nil
		},
		NewRollbacker: func(c deploy.Credentials) (deploy.Rollbacker, error) {
			return deploy.NewCloudflareRollbacker(l.Plan.AccountID, cfapi.Config{Token: c.CloudflareToken, BaseURL: apiURL, HTTPClient: o.F.Client(), MaxRetries: -1}), nil
		},
		Forecaster: forecaster,
		Confirm:    confirm(o.F.IO.In, o.F.IO.ErrOut),
		Sink:       sink,
		ExitCode:   func(err error) int { return cmdutil.ExitCode(exitError(err)) },
	}
	_, err = deploy.Run(ctx, cfg, deps)
	return exitError(err)
}

// exitError maps the engine's typed errors to the command's exit codes: a
// deploy.UsageError is a usage error (2), any other a failure (1).
func exitError(err error) error {
	if deploy.IsUsage(err) {
		return cmdutil.ConfigError(err)
	}
	return err
}

// interactive reports whether stdin is a terminal someone can answer on.
func (o *Options) interactive() bool {
	if o.isTerminal != nil {
		return o.isTerminal()
	}
	f, ok := o.F.IO.In.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// confirm asks on errOut and reads y or yes (any case) from in; anything
// else, or the end of input, is no.
func confirm(in io.Reader, errOut io.Writer) func(string) (bool, error) {
	r := bufio.NewReader(in)
	return func(q string) (bool, error) {
		fmt.Fprintf(errOut, "%s [y/N] ", q)
		line, err := r.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		a := strings.ToLower(strings.TrimSpace(line))
		return a == "y" || a == "yes", nil
	}
}
