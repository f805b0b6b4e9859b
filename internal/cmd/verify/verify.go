// Package verify is the `zerocost verify` command: it runs the checks of
// package verify against a running `zerocost dev` (--local) or a deployed
// stack, and prints a table, JSON or JUnit XML.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan"
	zverify "github.com/zerocost/zerocost/internal/verify"
)

// Options are the command's inputs.
type Options struct {
	F              *cmdutil.Factory
	Stack          string
	Local          bool
	OutputsFile    string
	JSON           bool
	JUnit          string
	Timeout        time.Duration
	CheckRateLimit bool
	WaitRevocation bool
	SkipResources  bool
	SkipRoutes     bool
	APIURL         string
	Products       []string

	// Context is the command's context.
	Context context.Context
	// Test hooks (no flags):
	// StateFile is the dev state file (default <project>/.zerocost/dev/<stack>.json).
	StateFile string
	// Outputs reads a deployed stack's outputs when --outputs is not given
	// (default: the pulumi CLI).
	Outputs outputs.Reader
	// PollInterval and Sleep pass to verify.Options.
	PollInterval time.Duration
	Sleep        func(context.Context, time.Duration) error
}

// NewCmd returns the command; runF replaces the run in tests of flag parsing.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that a stack's products work and its resources match the plan",
		Long: `Check a stack end to end.

Route checks call every product's Worker: GET /health, a wrong method (405),
bad input (400), and per pattern a job run to done (event-agent), a batch run
to done (async-pipeline) or the same question answered from the cache
(edge-cache). --check-rate-limit also expects 429 past the plan's limit; it
spends model budget, so it is off by default.

With --local the checks run against the ` + "`zerocost dev`" + ` of the stack, found
through .zerocost/dev/<stack>.json. Otherwise they run against the deployed
stack: its URLs come from --outputs (a file of ` + "`pulumi stack output --json`" + `),
or from the pulumi CLI, or else from the plan. Resource checks then read the
account with CLOUDFLARE_API_TOKEN (read-only permissions are enough for them; see
docs/verify.md) and report drift by name: missing, extra or mismatched buckets,
queues, consumers, bindings and routes.

A product with customer keys (access: keys, the default) also gets: a request
without a key is 401, and a job is 404 to another customer's key. --local sends
the key zerocost dev created (kept in its state file) and checks a revoked key
(a record written revoked through the dev's KV API, cached nowhere, so read
from KEYS). On a deployed stack verify makes its own keys, through Cloudflare's
KV API with CLOUDFLARE_API_TOKEN (Workers KV Storage: Edit) and the KEYS
namespace ids of the outputs: one for customer zerocost-verify, which the
checks send, and (but edge-cache) one for customer zerocost-verify-other. Each
expires when the product's checks must have ended (KV deletes it then too), so
a crashed verify leaves no valid key; after the checks, passed or failed, verify
revokes both ("revoke keys"). That costs 2 KV writes per key (create, revoke):
4 per product with jobs, 2 per edge-cache product, 14 for the demo stack, of
Workers Free's 1,000 KV writes a day. --wait-revocation then waits, up to 2
minutes (KV's propagation, about 60 s, plus the Worker's 60 s key cache), until
the revoked key gets 401 ("revoked key"). Without the token or the outputs,
keyed products get the health and no-key checks only (said on stderr).

When the stack sets zerocost:authToken, ZEROCOST_AUTH_TOKEN must hold the
token: the admin routes need it (and 401 without it is checked).
Exit status: 0 when every check passed, 1 when one failed, 2 for a usage or
configuration error.`,
		Example: `  zerocost verify --local
  zerocost verify --stack prod --outputs outputs.json --junit verify.xml
  zerocost verify --stack prod --outputs outputs.json --skip-routes
  zerocost verify --stack prod --skip-resources --json | jq '.checks[] | select(.status=="fail")'`,
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(opts, &opts.Context, opts.check, runF, Run),
	}
	f.AddStackFlag(cmd, &opts.Stack, cmdutil.LocalWhen(&opts.Local))
	fl := cmd.Flags()
	fl.BoolVar(&opts.Local, "local", false, "verify the stack's running `zerocost dev` (route checks only)")
	fl.StringVar(&opts.OutputsFile, "outputs", "", "file of `pulumi stack output --json` for the deployed stack (default: ask the pulumi CLI)")
	fl.BoolVar(&opts.JSON, "json", false, "print the report as JSON (schema: docs/verify.md)")
	fl.StringVar(&opts.JUnit, "junit", "", "also write the report as JUnit XML to this file")
	fl.DurationVar(&opts.Timeout, "timeout", zverify.DefaultTimeout, "how long a job, a batch or the cache may take")
	fl.BoolVar(&opts.CheckRateLimit, "check-rate-limit", false, "also expect 429 past each product's rate limit (spends model budget)")
	fl.BoolVar(&opts.WaitRevocation, "wait-revocation", false, "a deployed stack: after revoking verify's own keys, wait (up to 2 minutes) until the revoked key gets 401")
	fl.BoolVar(&opts.SkipResources, "skip-resources", false, "run the route checks only")
	fl.BoolVar(&opts.SkipRoutes, "skip-routes", false, "run the resource checks only (a deployed stack whose Workers this machine cannot reach)")
	fl.StringVar(&opts.APIURL, "cloudflare-api-url", "", "Cloudflare API base URL (default $"+cfapi.EnvBaseURL+", else "+cfapi.DefaultBaseURL+")")
	fl.StringSliceVar(&opts.Products, "product", nil, "verify only these products (repeatable or comma-separated)")
	return cmd
}

func (o *Options) check() error {
	var errs []error
	if o.Local && o.OutputsFile != "" {
		errs = append(errs, errors.New("--local and --outputs exclude each other: --outputs names a deployed stack's outputs"))
	}
	if o.SkipRoutes && o.SkipResources {
		errs = append(errs, errors.New("--skip-routes and --skip-resources together leave nothing to check"))
	}
	if o.SkipRoutes && o.Local {
		errs = append(errs, errors.New("--skip-routes with --local leaves nothing to check: a local run has route checks only"))
	}
	if o.WaitRevocation && (o.Local || o.SkipRoutes) {
		errs = append(errs, errors.New("--wait-revocation waits on the keys verify makes on a deployed stack: it takes neither --local (which checks a revoked key no isolate has cached) nor --skip-routes"))
	}
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %s must be positive", o.Timeout))
	}
	return errors.Join(errs...)
}

// Run verifies the stack.
func Run(o *Options) error {
	l, err := o.F.Load(o.Stack)
	if err != nil {
		return err
	}
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}
	errOut := o.F.IO.ErrOut
	vo := zverify.Options{
		Plan: l.Plan, Products: o.Products, HTTPClient: o.F.Client(), Timeout: o.Timeout,
		CheckRateLimit: o.CheckRateLimit, PollInterval: o.PollInterval, Sleep: o.Sleep, SkipRoutes: o.SkipRoutes,
	}
	if err := checkProducts(l.Plan, o.Products); err != nil {
		return cmdutil.ConfigError(err)
	}
	if o.Local {
		if vo.Target, err = o.localTarget(l); err != nil {
			return err
		}
		vo.AuthToken = o.F.Env(cmdutil.EnvAuthToken) // zerocost dev makes it the Workers' AUTH_TOKEN
	} else if err := o.deployed(ctx, l, &vo); err != nil {
		return err
	}

	p := newProgress(errOut)
	vo.Progress = p.update
	fmt.Fprintf(errOut, "zerocost verify: stack %s (%s)\n", o.Stack, vo.Target.Name)
	rep, err := zverify.Run(ctx, vo)
	p.finish()
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	if o.JSON {
		err = rep.WriteJSON(o.F.IO.Out)
	} else {
		err = rep.WriteTable(o.F.IO.Out)
	}
	if err != nil {
		return err
	}
	if o.JUnit != "" {
		if err := writeFile(o.JUnit, rep.WriteJUnit); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	if !rep.Passed {
		failed := rep.Failed()
		var names []string
		for _, c := range failed {
			names = append(names, c.Product+": "+c.Check)
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitFailed,
			Err: fmt.Errorf("%d of %d checks failed (%s)", len(failed), len(rep.Checks), strings.Join(names, ", "))}
	}
	return nil
}

// deployed sets vo's target, outputs, bearer token and resource reader for
// a deployed stack.
func (o *Options) deployed(ctx context.Context, l *cmdutil.Loaded, vo *zverify.Options) error {
	out, note, err := o.outputs(ctx, l.ProjectDir)
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	if note != "" {
		fmt.Fprintln(o.F.IO.ErrOut, "zerocost verify:", note)
	}
	vo.Outputs = out
	vo.Target = zverify.DeployedTarget(l.Plan, out)
	if zverify.NeedsAuthToken(l.Plan) {
		if vo.AuthToken = o.F.Env(cmdutil.EnvAuthToken); vo.AuthToken == "" {
			return cmdutil.ConfigError(fmt.Errorf("stack %s sets zerocost:authToken, which guards its admin routes: set %s to it", o.Stack, cmdutil.EnvAuthToken))
		}
	}
	if err := o.ownKeys(l.Plan, out, vo); err != nil {
		return err
	}
	if o.SkipResources {
		return nil
	}
	token := o.F.Env(cfapi.EnvToken)
	if token == "" {
		return cmdutil.ConfigError(fmt.Errorf("%s is not set: resource checks read the account with it (read-only permissions are enough, see docs/verify.md); or pass --skip-resources", cfapi.EnvToken))
	}
	base, err := o.apiURL()
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	vo.Resources = cfapi.New(cfapi.Config{Token: token, BaseURL: base, HTTPClient: o.F.Client(), MaxRetries: -1})
	return nil
}

func checkProducts(p *plan.Plan, names []string) error {
	for _, n := range names {
		if p.Product(n) == nil {
			var known []string
			for _, pr := range p.Products {
				known = append(known, pr.Name)
			}
			return fmt.Errorf("--product %s: stack %s has no such product (it has %s)", n, p.Stack, strings.Join(known, ", "))
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// localTarget reads the stack's dev state file.
func (o *Options) localTarget(l *cmdutil.Loaded) (zverify.Target, error) {
	path := o.StateFile
	if path == "" {
		path = devrun.StatePath(l.ProjectDir, o.Stack)
	}
	st, err := devrun.ReadStateFile(path)
	if errors.Is(err, devrun.ErrNotRunning) {
		why := strings.TrimPrefix(err.Error(), devrun.ErrNotRunning.Error()+": ")
		why = strings.TrimSuffix(why, " (start it with `zerocost dev`)")
		return zverify.Target{}, cmdutil.ConfigError(fmt.Errorf("no zerocost dev running for stack %s: start it with `zerocost dev --stack %s` (%s)", o.Stack, o.Stack, why))
	}
	if err != nil {
		return zverify.Target{}, cmdutil.ConfigError(fmt.Errorf("reading the state of zerocost dev: %w", err))
	}
	if st.Stack != "" && st.Stack != o.Stack {
		return zverify.Target{}, cmdutil.ConfigError(fmt.Errorf("%s belongs to stack %s, not %s", path, st.Stack, o.Stack))
	}
	tg := zverify.Target{Name: zverify.TargetLocal, URLs: map[string]string{}, Unavailable: map[string]string{}, Keys: map[string]string{}}
	for _, pr := range l.Plan.Products {
		if p := st.Product(pr.Name); p != nil && p.URL != "" {
			tg.URLs[pr.Name] = p.URL
			if p.Key != "" {
				tg.Keys[pr.Name] = p.Key
			}
		} else {
			tg.Unavailable[pr.Name] = fmt.Sprintf("not running in the zerocost dev of stack %s (pid %d): restart it", o.Stack, st.PID)
		}
	}
	if st.Model.StandIn {
		fmt.Fprintf(o.F.IO.ErrOut, "zerocost verify: the Workers call the stand-in model at %s\n", st.Model.URL)
	}
	if st.KVAPIURL != "" {
		tg.PutKey = st.PutKey
	}
	// The batch-mode check runs the product's crons (its Message Batches
	// poller) now rather than on their schedule.
	tg.TriggerCron = func(ctx context.Context, product string) error {
		rs, err := st.TriggerCron(ctx, product, "")
		if err != nil {
			return err
		}
		if err := devrun.CronsFailed(product, rs); err != nil {
			return fmt.Errorf("%w: see zerocost dev's log", err)
		}
		return nil
	}
	return tg, nil
}

// outputs returns the deployed stack's outputs: --outputs, else the pulumi
// CLI, else none (the plan's URLs are used; note says so).
func (o *Options) outputs(ctx context.Context, projectDir string) (outputs.Stack, string, error) {
	out, err := outputs.Read(ctx, o.OutputsFile, o.Outputs, projectDir, o.Stack)
	if errors.Is(err, outputs.ErrNoPulumi) {
		return nil, "no --outputs and no pulumi CLI on PATH: using the URLs of the plan, and not comparing resource ids with the stack outputs", nil
	}
	return out, "", err
}

// apiURL is the API base: the flag, else the environment, else Cloudflare's.
// A bare origin gets /client/v4/.
func (o *Options) apiURL() (string, error) {
	return cfapi.ResolveBaseURL(o.APIURL, "--cloudflare-api-url", o.F.Env)
}

// progress shows the run on stderr: one rewritten line on a terminal, a line
// per check otherwise.
type progress struct {
	w   io.Writer
	tty bool
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(done, total int, c zverify.Check) {
	mark := "ok  "
	if c.Status != zverify.Pass {
		mark = "FAIL"
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K[%d/%d] %s %s: %s", done, total, mark, c.Product, c.Check)
		return
	}
	fmt.Fprintf(p.w, "[%d/%d] %s %s: %s (%dms)\n", done, total, mark, c.Product, c.Check, c.LatencyMS)
}

func (p *progress) finish() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
