// Package dev is the `zerocost dev` command: the local runtime.
package dev

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
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
	ModelSpeed     float64
	ModelErrorRate float64
	Model429Share  float64
	ModelRPM       int
	// Batch are the stand-in's Message Batches knobs (the --model-batch-*
	// flags); the two Match regexps come from BatchMatch.
	Batch      devmodel.BatchOptions
	BatchMatch devmodel.BatchMatch

	// FireCrons fires the products' cron triggers on their schedules (--crons).
	FireCrons bool
	// TriggerCron, when set, runs that product's scheduled handler once in
	// the stack's running dev (found by its state file) instead of starting
	// one; Cron picks one of its crons ("" runs each).
	TriggerCron string
	Cron        string

	// Context stops the runtime when done: the command's context, which
	// SIGINT, SIGTERM and SIGHUP cancel (root.Signals).
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
flags; it serves the Message Batches API too, whose processing time, expiry
and per-request errors the --model-batch-* flags set. ZEROCOST_AUTH_TOKEN,
when set, becomes the Workers' AUTH_TOKEN.

A stack with a budget gets its spend database (D1) locally too, under
.zerocost/state/<stack>/: the month's spend survives a restart, and --reset
clears it. ZEROCOST_BUDGET_ALERT_WEBHOOK, when set, becomes the Workers'
BUDGET_ALERT_WEBHOOK (a product's own token-free budgetAlertWebhook wins).

Cron triggers fire on their schedules, in UTC, as on Cloudflare: each run
calls the Worker's scheduled handler and logs its outcome on stderr
(--crons=false turns the schedule off). To run them now, from a test or a
script, while dev runs:

  zerocost dev --stack demo --trigger-cron email-worker [--cron '*/5 * * * *']

It finds the running dev by its state file, runs the product's scheduled
handler once for each of its crons (or the one --cron names), prints the
outcomes, and exits 0 when every handler returned, 1 when one threw, 2 when
dev is not running or the product has no such cron.

Once every product answers, it prints one line per product (name, pattern,
URL), or with --json one JSON line, and writes .zerocost/dev/<stack>.json for
` + "`zerocost verify --local`" + `. Ctrl-C stops everything. Needs Node >= 22.12 and
workers-src/node_modules (` + "`make deps`" + `).`,
		Example: `  zerocost dev --stack demo
  zerocost dev --stack demo --json --model-latency 300ms --model-error-rate 0.2
  zerocost dev --stack demo --model-batch-delay 2m --model-batch-error-rate 0.3
  zerocost dev --stack demo --trigger-cron email-worker
  ANTHROPIC_API_KEY=sk-ant-... zerocost dev --stack demo --port-base 8787`,
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(opts, &opts.Context, opts.check, runF, Run),
	}
	f.AddStackFlag(cmd, &opts.Stack, cmdutil.Local)
	fl := cmd.Flags()
	fl.BoolVar(&opts.JSON, "json", false, "print one JSON line {products, model} on stdout when ready")
	fl.BoolVar(&opts.Reset, "reset", false, "delete the stack's local R2, queue and cache data before starting")
	fl.IntVar(&opts.PortBase, "port-base", 0, "serve product i on port N+i and the stand-in on N+<number of products> (default: free ports)")
	fl.DurationVar(&opts.ModelLatency, "model-latency", 0, "stand-in model: delay every answer, e.g. 200ms")
	fl.Float64Var(&opts.ModelSpeed, "model-speed", 0, "stand-in model: output tokens a second, so a long answer takes as long as it would (e.g. 60, a Sonnet-class model; 0: at once)")
	fl.Float64Var(&opts.ModelErrorRate, "model-error-rate", 0, "stand-in model: share of calls (0..1) failing with 500 api_error or 529 overloaded_error")
	fl.Float64Var(&opts.Model429Share, "model-429-share", 0, "stand-in model: share (0..1) of the --model-error-rate failures that are 429 rate_limit_error with retry-after 1 s")
	fl.IntVar(&opts.ModelRPM, "model-rpm", 0, "stand-in model: requests per minute before 429 rate_limit_error with retry-after (0: no limit)")
	devmodel.BatchFlags(fl, &opts.Batch, &opts.BatchMatch, "model-batch-", "stand-in Message Batches")
	fl.BoolVar(&opts.FireCrons, "crons", true, "fire the products' cron triggers on their schedules (UTC); false: only with --trigger-cron")
	fl.StringVar(&opts.TriggerCron, "trigger-cron", "", "run `PRODUCT`'s scheduled handler now in the stack's running dev, then exit")
	fl.StringVar(&opts.Cron, "cron", "", "with --trigger-cron: run only this cron `EXPR` of the product (default: each)")
	return cmd
}

func (o *Options) standIn() (devmodel.Options, error) {
	so := devmodel.Options{Latency: o.ModelLatency, TokensPerSecond: o.ModelSpeed, ErrorRate: o.ModelErrorRate, RateLimitShare: o.Model429Share, RPM: o.ModelRPM, Batch: o.Batch}
	return so, o.BatchMatch.Compile(&so.Batch, "--model-batch-")
}

// shapesStandIn reports whether a --model-* flag asks for anything but the
// stand-in's defaults.
func (o *Options) shapesStandIn() bool {
	def := devmodel.BatchOptions{Expiry: devmodel.DefaultBatchExpiry, ErrorType: "api_error"}
	b := o.Batch
	b.Errors.Match, b.Expire.Match = nil, nil
	return o.ModelLatency != 0 || o.ModelSpeed != 0 || o.ModelErrorRate != 0 || o.Model429Share != 0 || o.ModelRPM != 0 ||
		b != def || o.BatchMatch != (devmodel.BatchMatch{})
}

func (o *Options) check() error {
	var errs []error
	so, err := o.standIn()
	if err != nil {
		errs = append(errs, err)
	} else if err := so.Check(); err != nil {
		errs = append(errs, fmt.Errorf("--model-*: %w", err))
	}
	if o.PortBase < 0 || o.PortBase > 65535 {
		errs = append(errs, fmt.Errorf("--port-base %d is not a port", o.PortBase))
	}
	if o.TriggerCron != "" && (o.Reset || o.PortBase != 0 || o.JSON) {
		errs = append(errs, errors.New("--trigger-cron runs a cron in the stack's running dev: --reset, --port-base and --json are for starting one"))
	}
	if o.Cron != "" && o.TriggerCron == "" {
		errs = append(errs, errors.New("--cron picks a cron for --trigger-cron PRODUCT: give the product too"))
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
	if o.TriggerCron != "" {
		return o.triggerCron(l)
	}
	errOut := o.F.IO.ErrOut
	standIn, err := o.standIn()
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	apiKey := o.F.Env("ANTHROPIC_API_KEY")
	if apiKey != "" && o.shapesStandIn() {
		fmt.Fprintln(errOut, "zerocost dev: ANTHROPIC_API_KEY is set, so the Workers call the real API: the --model-* flags shape the stand-in only and are ignored")
	}

	// The root's context: SIGINT, SIGTERM and SIGHUP cancel it (root.Signals).
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}

	rt, err := devrun.Start(ctx, devrun.Options{
		ProjectDir: l.ProjectDir,
		Stack:      o.Stack,
		Plan:       l.Plan,
		ToolsDir:   o.ToolsDir,
		DataDir:    o.DataDir,
		APIKey:     apiKey,
		StandIn:    standIn,
		AuthToken:  o.F.Env("ZEROCOST_AUTH_TOKEN"),
		// The stack's budget alert webhook (a secret on Cloudflare).
		BudgetAlertWebhook: o.F.Env("ZEROCOST_BUDGET_ALERT_WEBHOOK"),
		Reset:              o.Reset,
		PortBase:           o.PortBase,
		Log:                errOut,
		FireCrons:          o.FireCrons,
	})
	if err != nil {
		if devrun.IsUsage(err) {
			return cmdutil.ConfigError(err)
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil // interrupted while starting (a signal, or the caller)
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
	keyed := ""
	for _, p := range rt.Products() {
		access := "public"
		if p.Key != "" {
			access, keyed = "keys", p.Name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Pattern, access, p.URL)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if keyed != "" {
		// The dev keys stay in the state file (for verify --local): never printed here.
		_, err := fmt.Fprintf(out, "products with keys need a customer key: zerocost keys create --local --stack %s --product %s --customer NAME\n", o.Stack, keyed)
		return err
	}
	return nil
}

// triggerCron runs a product's scheduled handler in the stack's running dev.
func (o *Options) triggerCron(l *cmdutil.Loaded) error {
	path := devrun.StatePath(l.ProjectDir, o.Stack)
	if o.DataDir != "" {
		path = filepath.Join(o.DataDir, "dev", o.Stack+".json")
	}
	st, err := devrun.ReadStateFile(path)
	if errors.Is(err, devrun.ErrNotRunning) {
		return cmdutil.ConfigError(fmt.Errorf("--trigger-cron: no zerocost dev running for stack %s: start it with `zerocost dev --stack %s` (%v)", o.Stack, o.Stack, err))
	}
	if err != nil {
		return cmdutil.ConfigError(fmt.Errorf("--trigger-cron: reading the state of zerocost dev: %w", err))
	}
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}
	results, err := st.TriggerCron(ctx, o.TriggerCron, o.Cron)
	for _, r := range results {
		fmt.Fprintln(o.F.IO.Out, r)
	}
	if devrun.IsUsage(err) {
		return cmdutil.ConfigError(fmt.Errorf("--trigger-cron: %w", err))
	}
	if err != nil {
		return err
	}
	var failed []string
	for _, r := range results {
		if !r.OK() {
			failed = append(failed, fmt.Sprintf("%q: %s", r.Cron, r.Outcome))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("the scheduled handler of %s failed (%s): its error is in zerocost dev's log", o.TriggerCron, strings.Join(failed, "; "))
	}
	return nil
}
