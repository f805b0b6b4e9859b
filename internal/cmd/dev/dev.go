// Package dev is the `zerocost dev` command: the local runtime.
package dev

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/devrun"
)

// Options are the command's inputs.
type Options struct {
	F     *cmdutil.Factory
	Stack string
	JSON  bool
	Reset bool
	// PortBase fixes the ports: product i gets PortBase+i, the stand-in
	// PortBase+len(products). 0 picks free ports.
	PortBase       int
	ModelLatency   time.Duration
	ModelErrorRate float64
	Model429Share  float64
	ModelRPM       int

	// Context stops the runtime when done (besides Ctrl-C and SIGTERM); it is
	// the command's context.
	Context context.Context
	// DataDir and ToolsDir override devrun.Options' defaults (tests only; no flags).
	DataDir  string
	ToolsDir string
}

// NewCmd returns the command; runF replaces the run in tests of flag parsing.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run every product of a stack locally, on workerd",
		Long: `Run every product of a stack on workerd (Cloudflare's Workers runtime) through
Miniflare, with the plan's bindings: R2, queues with their consumers and
dead-letter queues, rate limiters, Analytics Engine, vars and secrets, and the
Cache API. Data persists in .zerocost/state/<stack>/ between runs; --reset
clears it.

With ANTHROPIC_API_KEY set, the Workers call Anthropic's API. Without it they
call a local stand-in that answers in Anthropic's format, says it is a
stand-in, and can be slowed, made to fail or rate limited with the --model-*
flags. ZEROCOST_AUTH_TOKEN, when set, becomes the Workers' AUTH_TOKEN.

Once every product answers, it prints one line per product (name, pattern,
URL), or with --json one JSON line, and writes .zerocost/dev/<stack>.json for
` + "`zerocost verify --local`" + `. Ctrl-C stops everything. Needs Node >= 22.12 and
workers-src/node_modules (` + "`make deps`" + `).`,
		Example: `  zerocost dev --stack demo
  zerocost dev --stack demo --json --model-latency 300ms --model-error-rate 0.2
  ANTHROPIC_API_KEY=sk-ant-... zerocost dev --stack demo --port-base 8787`,
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(opts, &opts.Context, opts.check, runF, Run),
	}
	cmdutil.AddStackFlag(cmd, &opts.Stack)
	fl := cmd.Flags()
	fl.BoolVar(&opts.JSON, "json", false, "print one JSON line {products, model} on stdout when ready")
	fl.BoolVar(&opts.Reset, "reset", false, "delete the stack's local R2, queue and cache data before starting")
	fl.IntVar(&opts.PortBase, "port-base", 0, "serve product i on port N+i and the stand-in on N+<number of products> (default: free ports)")
	fl.DurationVar(&opts.ModelLatency, "model-latency", 0, "stand-in model: delay every answer, e.g. 200ms")
	fl.Float64Var(&opts.ModelErrorRate, "model-error-rate", 0, "stand-in model: share of calls (0..1) failing with 500 api_error or 529 overloaded_error")
	fl.Float64Var(&opts.Model429Share, "model-429-share", 0, "stand-in model: share (0..1) of the --model-error-rate failures that are 429 rate_limit_error with retry-after 1 s")
	fl.IntVar(&opts.ModelRPM, "model-rpm", 0, "stand-in model: requests per minute before 429 rate_limit_error with retry-after (0: no limit)")
	return cmd
}

func (o *Options) standIn() devmodel.Options {
	return devmodel.Options{Latency: o.ModelLatency, ErrorRate: o.ModelErrorRate, RateLimitShare: o.Model429Share, RPM: o.ModelRPM}
}

func (o *Options) check() error {
	var errs []error
	if err := o.standIn().Check(); err != nil {
		errs = append(errs, fmt.Errorf("--model-*: %w", err))
	}
	if o.PortBase < 0 || o.PortBase > 65535 {
		errs = append(errs, fmt.Errorf("--port-base %d is not a port", o.PortBase))
	}
	return errors.Join(errs...)
}

// Output is the --json line.
type Output struct {
	Products []devrun.Product `json:"products"`
	Model    devrun.ModelInfo `json:"model"`
}

// Run starts the runtime and serves until interrupted.
func Run(o *Options) error {
	l, err := o.F.Load(o.Stack)
	if err != nil {
		return err
	}
	errOut := o.F.IO.ErrOut
	apiKey := o.F.Env("ANTHROPIC_API_KEY")
	if apiKey != "" && (o.ModelLatency != 0 || o.ModelErrorRate != 0 || o.Model429Share != 0 || o.ModelRPM != 0) {
		fmt.Fprintln(errOut, "zerocost dev: ANTHROPIC_API_KEY is set, so the Workers call the real API: the --model-* flags shape the stand-in only and are ignored")
	}

	parent := o.Context
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	rt, err := devrun.Start(ctx, devrun.Options{
		ProjectDir: l.ProjectDir,
		Stack:      o.Stack,
		Plan:       l.Plan,
		ToolsDir:   o.ToolsDir,
		DataDir:    o.DataDir,
		APIKey:     apiKey,
		StandIn:    o.standIn(),
		AuthToken:  o.F.Env("ZEROCOST_AUTH_TOKEN"),
		Reset:      o.Reset,
		PortBase:   o.PortBase,
		Log:        errOut,
	})
	if err != nil {
		if devrun.IsUsage(err) {
			return cmdutil.ConfigError(err)
		}
		if ctx.Err() != nil && parent.Err() == nil {
			return nil // interrupted while starting
		}
		return err
	}
	defer rt.Stop()

	if err := printReady(o, rt); err != nil {
		return err
	}
	if rt.ModelInfo().StandIn {
		fmt.Fprintf(errOut, "zerocost dev: model: stand-in at %s (set ANTHROPIC_API_KEY for the real API); stats at %s%s\n", rt.ModelInfo().URL, rt.ModelInfo().URL, devmodel.StatsPath)
	} else {
		fmt.Fprintf(errOut, "zerocost dev: model: Anthropic's API at %s\n", rt.ModelInfo().URL)
	}
	fmt.Fprintf(errOut, "zerocost dev: stack %s ready in %s; state file %s; press Ctrl-C to stop\n", o.Stack, rt.ReadyIn().Round(time.Millisecond), rt.StatePath())

	select {
	case <-ctx.Done():
		fmt.Fprintln(errOut, "zerocost dev: stopping")
		return rt.Stop()
	case <-rt.Done():
		_ = rt.Stop()
		return fmt.Errorf("the dev runner exited unexpectedly (%v): see the log above", rt.Err())
	}
}

func printReady(o *Options, rt *devrun.Runtime) error {
	out := o.F.IO.Out
	if o.JSON {
		data, err := json.Marshal(Output{Products: rt.Products(), Model: rt.ModelInfo()})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", data)
		return err
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	for _, p := range rt.Products() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.Pattern, p.URL)
	}
	return tw.Flush()
}
