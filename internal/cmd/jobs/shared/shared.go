// Package shared is what `zerocost jobs list` and `zerocost jobs resume`
// share: the flags that pick a product and its Worker, the Worker's URL, and
// a client of its admin routes (contract.AdminJobsPath,
// contract.AdminJobsResumePath; workers-src/README.md, "Spend guard").
package shared

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/stack"
)

// EnvAuthToken holds the stack's zerocost:authToken: the admin routes need it.
const EnvAuthToken = cmdutil.EnvAuthToken

// Target names the product whose jobs a verb works on, and where its Worker
// runs. Its fields are the verbs' common flags, and the dependencies the
// verbs get injected.
type Target struct {
	IO *cmdutil.IOStreams
	// Context is the command's (cmdutil.RunE sets it).
	Context context.Context

	Stack       string
	Product     string
	Local       bool
	OutputsFile string

	// Load reads the stack's config and plan (cmdutil.Factory.Load).
	Load func(stack string) (*cmdutil.Loaded, error)
	// Getenv reads the environment (cmdutil.Factory.Env).
	Getenv func(string) string
	// HTTPClient is the client of the admin calls (cmdutil.Factory.Client).
	HTTPClient func() *http.Client
	// addStackFlag is cmdutil.Factory.AddStackFlag.
	addStackFlag func(cmd *cobra.Command, p *string, use cmdutil.StackUse)

	// Test hooks (no flags): StateFile is the dev state file (default
	// <project>/.zerocost/dev/<stack>.json); Outputs reads a deployed
	// stack's outputs when --outputs is not given (default: the pulumi CLI).
	StateFile string
	Outputs   outputs.Reader
}

// NewTarget returns a Target whose dependencies are f's.
func NewTarget(f *cmdutil.Factory) Target {
	return Target{IO: f.IO, Load: f.Load, Getenv: f.Env, HTTPClient: f.Client, addStackFlag: f.AddStackFlag}
}

// Ctx is the command's context, or a background one outside a command.
func (t *Target) Ctx() context.Context {
	if t.Context == nil {
		return context.Background()
	}
	return t.Context
}

// AddFlags adds the common flags to a verb.
func (t *Target) AddFlags(cmd *cobra.Command) {
	// Without --stack: the selected stack, or with --local also the
	// project's only stack file (cmdutil.LocalWhen).
	t.addStackFlag(cmd, &t.Stack, cmdutil.LocalWhen(&t.Local))
	fl := cmd.Flags()
	fl.StringVar(&t.Product, "product", "", "the async-pipeline product (required)")
	fl.BoolVar(&t.Local, "local", false, "call the stack's running zerocost dev")
	fl.StringVar(&t.OutputsFile, "outputs", "", "`FILE` of pulumi stack output --json for the deployed stack (default: ask the pulumi CLI)")
}

// Check vets the common flags and --limit; verb is "list" or "resume".
func (t *Target) Check(verb string, limit int) error {
	var errs []error
	if t.Product == "" {
		errs = append(errs, errors.New("--product is required: the async-pipeline product whose jobs to "+verb))
	}
	if t.Local && t.OutputsFile != "" {
		errs = append(errs, errors.New("--local and --outputs exclude each other: --outputs names a deployed stack's outputs"))
	}
	if limit < 0 {
		errs = append(errs, fmt.Errorf("--limit %d must be 0 (no limit) or more", limit))
	}
	return errors.Join(errs...)
}

// Connect loads the stack, checks that the product parks jobs and that the
// admin token is set, and returns a client of the product's Worker.
func (t *Target) Connect() (*Client, error) {
	l, err := t.Load(t.Stack)
	if err != nil {
		return nil, err
	}
	pr := l.Plan.Product(t.Product)
	if pr == nil {
		var known []string
		for _, p := range l.Plan.Products {
			known = append(known, p.Name)
		}
		return nil, cmdutil.ConfigError(fmt.Errorf("--product %s: stack %s has no such product (it has %s)", t.Product, t.Stack, strings.Join(known, ", ")))
	}
	if pr.Pattern != stack.AsyncPipeline {
		return nil, cmdutil.ConfigError(fmt.Errorf("--product %s is an %s product: only async-pipeline products park jobs", t.Product, pr.Pattern))
	}
	token := t.Getenv(EnvAuthToken)
	if token == "" {
		return nil, cmdutil.ConfigError(fmt.Errorf("%s is not set: the admin routes need the stack's zerocost:authToken (a stack without one has no admin routes: set it with pulumi config set --secret zerocost:authToken)", EnvAuthToken))
	}
	base, err := t.productURL(t.Ctx(), l, pr.URL)
	if err != nil {
		return nil, err
	}
	return &Client{http: t.HTTPClient(), base: strings.TrimRight(base, "/"), token: token}, nil
}

// productURL is the product's base URL: the running dev's with --local, else
// the deployed stack's (outputs), else the plan's.
func (t *Target) productURL(ctx context.Context, l *cmdutil.Loaded, planURL string) (string, error) {
	if t.Local {
		return t.localURL(l)
	}
	out, err := outputs.Read(ctx, t.OutputsFile, t.Outputs, l.ProjectDir, t.Stack)
	if err != nil && !errors.Is(err, outputs.ErrNoPulumi) {
		return "", cmdutil.ConfigError(err)
	}
	if p, ok := out[t.Product]; ok && p.URL != "" {
		return p.URL, nil
	}
	if out != nil {
		if _, ok := out[t.Product]; !ok {
			return "", cmdutil.ConfigError(fmt.Errorf("%s is not in the stack outputs: is it deployed (`pulumi up`)?", t.Product))
		}
	}
	if planURL == "" {
		return "", cmdutil.ConfigError(fmt.Errorf("%s has no URL: it has no route, custom domain or workers.dev subdomain in the plan", t.Product))
	}
	return planURL, nil
}

// localURL is the product's URL in the stack's running zerocost dev.
func (t *Target) localURL(l *cmdutil.Loaded) (string, error) {
	path := t.StateFile
	if path == "" {
		path = devrun.StatePath(l.ProjectDir, t.Stack)
	}
	st, err := devrun.ReadStateFile(path)
	if errors.Is(err, devrun.ErrNotRunning) {
		return "", cmdutil.ConfigError(fmt.Errorf("no zerocost dev running for stack %s: start it with `zerocost dev --stack %s`", t.Stack, t.Stack))
	}
	if err != nil {
		return "", cmdutil.ConfigError(fmt.Errorf("reading the state of zerocost dev: %w", err))
	}
	if p := st.Product(t.Product); p != nil && p.URL != "" {
		return p.URL, nil
	}
	return "", cmdutil.ConfigError(fmt.Errorf("%s is not running in the zerocost dev of stack %s: restart it", t.Product, t.Stack))
}
