// Package deploy is the engine of `zerocost deploy`: it drives the Pulumi
// program in infra/ through the `pulumi` CLI (refresh, preview, up),
// verifies the new outputs, and when verification fails rolls every Worker
// the deploy changed back to the versions it served before, through
// Cloudflare's Workers deployments API.
//
// The orchestrator (Run) only sees small interfaces — Runner (the stack),
// Verifier, Rollbacker, CostForecaster — so its sequencing and every failure
// path are tested with in-memory fakes; CLIRunner and CloudflareRollbacker
// are the real ones. It imports neither infra/ nor any Pulumi package: the
// `pulumi` CLI builds and runs infra/, and CLIRunner reads the few fields of
// its JSON engine events that deploy reports.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/zerocost/zerocost/internal/outputs"
)

// Changes counts a refresh's, preview's or up's resource steps by Pulumi
// operation ("create", "update", "replace", "delete", "same", ...).
type Changes map[string]int

// unchangedOp reports whether an operation leaves the resource as it is.
func unchangedOp(op string) bool { return op == "same" || op == "read" || op == "refresh" }

// Changed is the number of steps that change a resource.
func (c Changes) Changed() int {
	n := 0
	for op, k := range c {
		if !unchangedOp(op) {
			n += k
		}
	}
	return n
}

// Unchanged is the number of steps that leave a resource as it is.
func (c Changes) Unchanged() int {
	n := 0
	for op, k := range c {
		if unchangedOp(op) {
			n += k
		}
	}
	return n
}

// Step is one resource step the engine finished or failed.
type Step struct {
	Op     string
	URN    string
	Type   string
	Failed bool
}

// Diagnostic is a message the engine reported; Severity is "error",
// "warning", "info" or "info#err".
type Diagnostic struct {
	Severity string
	URN      string
	Message  string
}

// Progress receives the engine's events while an operation runs.
type Progress interface {
	Step(Step)
	Diagnostic(Diagnostic)
}

// Runner drives one Pulumi stack.
type Runner interface {
	Refresh(ctx context.Context, p Progress) (Changes, error)
	Preview(ctx context.Context, p Progress) (Changes, error)
	// Up deploys and returns the changes and the stack's new outputs.
	Up(ctx context.Context, p Progress) (Changes, outputs.Stack, error)
	// Outputs are the stack's current outputs: empty before the first deploy.
	Outputs(ctx context.Context) (outputs.Stack, error)
	// Config reads a config value of the stack, decrypting secrets; ok is
	// false when the key is not set.
	Config(ctx context.Context, key string) (value string, ok bool, err error)
}

// Verifier checks a deployed stack. passed is the verdict; err means the
// verification could not run, which counts as a failed verification. report,
// when not nil, is put into the verify event (and its Summary() printed when
// it implements Summarizer).
type Verifier interface {
	Verify(ctx context.Context, out outputs.Stack) (passed bool, report any, err error)
}

// VersionShare is one version of a Worker deployment and its share of traffic.
type VersionShare struct {
	VersionID  string  `json:"version_id"`
	Percentage float64 `json:"percentage"`
}

// ScriptState is what a Worker serves: the versions of its newest deployment.
type ScriptState struct {
	// Exists is false when the Worker does not exist.
	Exists       bool
	DeploymentID string
	Versions     []VersionShare
}

// Rollbacker reads and sets which versions a Worker serves.
type Rollbacker interface {
	Active(ctx context.Context, script string) (ScriptState, error)
	// Rollback deploys the versions again, with their percentages.
	Rollback(ctx context.Context, script string, to []VersionShare) error
}

// CostDelta is the monthly cost forecast of the products deployed before and
// after the deploy, from a usage profile.
type CostDelta struct {
	// Source is the usage profile.
	Source string `json:"source"`
	// Plan is "free" (Workers Free) or "paid" (Workers Paid).
	Plan      string  `json:"plan"`
	BeforeUSD float64 `json:"before_usd"`
	AfterUSD  float64 `json:"after_usd"`
	DeltaUSD  float64 `json:"delta_usd"`
	// Unpriced are products deployed after the deploy that the profile
	// does not list.
	Unpriced []string `json:"unpriced,omitempty"`
}

func (c *CostDelta) String() string {
	s := fmt.Sprintf("cost forecast (%s, Workers %s): $%.2f -> $%.2f a month (%+.2f)", c.Source, c.Plan, c.BeforeUSD, c.AfterUSD, c.DeltaUSD)
	if len(c.Unpriced) > 0 {
		s += "; not in the profile, so not priced: " + strings.Join(c.Unpriced, ", ")
	}
	return s
}

// CostForecaster prices the usage profile for the products deployed before
// the deploy and after it. A nil delta means there is nothing to say (no
// usage profile configured).
type CostForecaster interface {
	Forecast(ctx context.Context, before, after []string) (*CostDelta, error)
}

// NoForecast is the CostForecaster used when no usage profile is configured:
// it forecasts nothing.
type NoForecast struct{}

// Forecast returns nil.
func (NoForecast) Forecast(context.Context, []string, []string) (*CostDelta, error) { return nil, nil }

// Credentials are the secrets verification and rollback use.
type Credentials struct {
	// CloudflareToken reads the account (verification) and rolls Workers back.
	CloudflareToken string
	// AuthToken is the Workers' bearer token (zerocost:authToken), "" when
	// the stack sets none.
	AuthToken string
}

// Config is what to deploy and how.
type Config struct {
	// Stack is the Pulumi stack's name.
	Stack string
	// Scripts are the plan's Worker scripts: the ones a rollback considers.
	Scripts []string
	// Products are the plan's products (for the cost forecast).
	Products []string
	// Yes deploys without asking.
	Yes bool
	// Interactive says whether Confirm can ask someone; without Yes, a
	// deploy that cannot ask is refused before anything runs.
	Interactive bool
	Refresh     bool
	SkipVerify  bool
	NoRollback  bool
	// CloudflareToken is CLOUDFLARE_API_TOKEN; when empty, the stack's
	// cloudflare:apiToken config is read.
	CloudflareToken string
	// AuthToken is the Workers' bearer token when the caller has it (e.g.
	// from ZEROCOST_AUTH_TOKEN); when empty and AuthTokenKey is set, the
	// stack's config is read.
	AuthToken string
	// AuthTokenKey is the config key of the Workers' bearer token
	// ("zerocost:authToken"), or "" when the stack sets none.
	AuthTokenKey string
}

// CloudflareTokenKey is the Pulumi Cloudflare provider's token setting.
const CloudflareTokenKey = "cloudflare:apiToken"

// Deps are the parts the orchestrator drives.
type Deps struct {
	// Preflight checks the machine before anything runs (nil: none).
	Preflight func(ctx context.Context) error
	// Open selects (or creates) the stack.
	Open func(ctx context.Context) (Runner, error)
	// NewVerifier is called once, before `up`, unless verification is skipped.
	NewVerifier func(c Credentials) (Verifier, error)
	// NewRollbacker is called once, before `up`, unless there will be no
	// rollback (--skip-verify or --no-rollback).
	NewRollbacker func(c Credentials) (Rollbacker, error)
	// Forecaster prices the change (nil: NoForecast).
	Forecaster CostForecaster
	// Confirm asks a yes/no question; it is called unless Config.Yes.
	Confirm func(question string) (bool, error)
	// Sink receives the events.
	Sink Sink
	// ExitCode maps Run's error to the process's exit code, for the result
	// event: the command layer's mapping (nil: 0 for no error, 2 for a
	// UsageError, 1 otherwise).
	ExitCode func(error) int
}

// ScriptRollback is what happened to one Worker after a failed verification.
type ScriptRollback struct {
	Script string
	// Status is one of the Script* statuses.
	Status   string
	Before   []VersionShare
	Deployed []VersionShare
	Err      error
}

// Result is a deploy's outcome.
type Result struct {
	Outcome string
	// Changes are the preview's counts.
	Changes Changes
	// Outputs are the outputs verification ran against.
	Outputs outputs.Stack
	// Verified is nil when verification did not run.
	Verified *bool
	// Scripts are the rollback's decisions, one per plan script.
	Scripts []ScriptRollback
	// Reverified is nil when there was no second verification.
	Reverified *bool
}

// RolledBack lists the Workers the rollback restored.
func (r *Result) RolledBack() []string {
	var out []string
	for _, s := range r.Scripts {
		if s.Status == ScriptRolledBack {
			out = append(out, s.Script)
		}
	}
	return out
}

// ErrStackLocked is what a LockedError matches with errors.Is.
var ErrStackLocked = errors.New("stack is locked")

// LockedError says another update holds the stack's lock.
type LockedError struct {
	Stack string
	Err   error
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("stack %s is locked by another update: wait for it to finish; if none is running (a crashed run left the lock), "+
		"run `pulumi cancel --stack %s` (Pulumi Cloud) or delete the stack's lock file under .pulumi/locks/ in a self-managed backend", e.Stack, e.Stack)
}

func (e *LockedError) Unwrap() []error { return []error{ErrStackLocked, e.Err} }

type deployer struct {
	ctx  context.Context
	cfg  Config
	deps Deps
	res  *Result
}

// Run deploys: preflight, open, [refresh], preview, cost forecast, confirm,
// snapshot, up, verify, and on a failed verification rollback and
// re-verification. A usage or environment problem caught before anything
// changed is a UsageError; every other error is a failed phase, a refusal or
// a failed verification. Deps.ExitCode turns them into the result event's
// exit code.
func Run(ctx context.Context, cfg Config, deps Deps) (*Result, error) {
	if deps.Forecaster == nil {
		deps.Forecaster = NoForecast{}
	}
	if deps.ExitCode == nil {
		deps.ExitCode = defaultExitCode
	}
	d := &deployer{ctx: ctx, cfg: cfg, deps: deps, res: &Result{}}
	err := d.run()
	return d.res, err
}

// defaultExitCode is Deps.ExitCode's default.
func defaultExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case IsUsage(err):
		return 2
	}
	return 1
}

func (d *deployer) emit(e Event) { d.deps.Sink.Emit(e) }

func (d *deployer) phase(phase, status, msg string) {
	d.emit(Event{Type: EventPhase, Phase: phase, Status: status, Message: msg})
}

// failed ends the deploy in a phase's failure.
func (d *deployer) failed(phase string, err error) error {
	d.emit(Event{Type: EventPhase, Phase: phase, Status: StatusFailed, Error: err.Error()})
	return d.finish(OutcomeFailed, err, "")
}

// finish emits the result event and returns err.
func (d *deployer) finish(outcome string, err error, msg string) error {
	d.res.Outcome = outcome
	code := d.deps.ExitCode(err)
	if err != nil && msg == "" {
		msg = err.Error()
	}
	e := Event{Type: EventResult, Outcome: outcome, ExitCode: &code, Message: msg, RolledBack: d.res.RolledBack()}
	for _, s := range d.res.Scripts {
		if s.Status != ScriptRolledBack && s.Status != ScriptUnchanged {
			e.NotRolledBack = append(e.NotRolledBack, s.Script)
		}
	}
	d.emit(e)
	return err
}

func (d *deployer) rollbackEnabled() bool { return !d.cfg.SkipVerify && !d.cfg.NoRollback }

// credentials resolves the Cloudflare token (CLOUDFLARE_API_TOKEN or the
// stack's cloudflare:apiToken) and the Workers' bearer token.
func (d *deployer) credentials(r Runner) (Credentials, error) {
	c := Credentials{CloudflareToken: d.cfg.CloudflareToken}
	if c.CloudflareToken == "" {
		v, ok, err := r.Config(d.ctx, CloudflareTokenKey)
		if err != nil {
			return c, fmt.Errorf("read %s from stack %s: %w", CloudflareTokenKey, d.cfg.Stack, err)
		}
		if !ok || v == "" {
			return c, usageError(fmt.Errorf("no Cloudflare API token: set CLOUDFLARE_API_TOKEN, or `pulumi config set --secret %s <token>`", CloudflareTokenKey))
		}
		c.CloudflareToken = v
	}
	c.AuthToken = d.cfg.AuthToken
	if c.AuthToken == "" && d.cfg.AuthTokenKey != "" {
		v, ok, err := r.Config(d.ctx, d.cfg.AuthTokenKey)
		if err != nil {
			return c, fmt.Errorf("read %s from stack %s: %w", d.cfg.AuthTokenKey, d.cfg.Stack, err)
		}
		if !ok || v == "" {
			return c, usageError(fmt.Errorf("stack %s names %s but it has no value", d.cfg.Stack, d.cfg.AuthTokenKey))
		}
		c.AuthToken = v
	}
	return c, nil
}

// opError turns a locked stack into a LockedError.
func (d *deployer) opError(err error) error {
	var le *LockedError
	if errors.Is(err, ErrStackLocked) && !errors.As(err, &le) {
		return &LockedError{Stack: d.cfg.Stack, Err: err}
	}
	return err
}

// forecast emits the cost delta; a failure is reported and ignored.
func (d *deployer) forecast(r Runner) {
	if _, none := d.deps.Forecaster.(NoForecast); none {
		d.phase(PhaseCost, StatusSkipped, "no usage profile (--usage FILE)")
		return
	}
	d.phase(PhaseCost, StatusStarted, "")
	now, err := r.Outputs(d.ctx)
	if err != nil {
		d.emit(Event{Type: EventPhase, Phase: PhaseCost, Status: StatusFailed, Error: "read the stack's outputs: " + err.Error()})
		return
	}
	delta, err := d.deps.Forecaster.Forecast(d.ctx, now.Names(), slices.Clone(d.cfg.Products))
	switch {
	case err != nil:
		d.emit(Event{Type: EventPhase, Phase: PhaseCost, Status: StatusFailed, Error: err.Error()})
	case delta == nil:
		d.phase(PhaseCost, StatusSkipped, "nothing to forecast")
	default:
		d.emit(Event{Type: EventCost, Phase: PhaseCost, Cost: delta})
		d.phase(PhaseCost, StatusDone, "")
	}
}

// verify runs one verification; an error counts as a failure.
func (d *deployer) verify(phase string, v Verifier, outs outputs.Stack) bool {
	d.phase(phase, StatusStarted, "")
	passed, report, err := v.Verify(d.ctx, outs)
	e := Event{Type: EventVerify, Phase: phase, Passed: &passed, Report: report}
	if err != nil {
		passed = false
		e.Error = err.Error()
		e.Message = "verification could not run: " + firstLine(err.Error())
	}
	d.emit(e)
	if passed {
		d.phase(phase, StatusDone, "")
	} else {
		d.emit(Event{Type: EventPhase, Phase: phase, Status: StatusFailed, Error: "verification failed"})
	}
	return passed
}

// rollback restores every Worker whose active versions `up` changed, then
// verifies again. It always ends the deploy with exit code 1.
func (d *deployer) rollback(rb Rollbacker, v Verifier, before map[string]ScriptState, outs outputs.Stack) error {
	d.phase(PhaseRollback, StatusStarted, "restore the Workers this deploy changed (data resources are never rolled back)")
	for _, script := range d.cfg.Scripts {
		b := before[script]
		s := ScriptRollback{Script: script, Before: b.Versions}
		switch {
		case !b.Exists:
			s.Status = ScriptNew
		case len(b.Versions) == 0:
			s.Status = ScriptNoVersion
		default:
			after, err := rb.Active(d.ctx, script)
			switch {
			case err != nil:
				s.Status, s.Err = ScriptFailed, fmt.Errorf("read its versions after `up`: %w", err)
			case !after.Exists:
				s.Status, s.Err = ScriptFailed, errors.New("it no longer exists")
			case sameVersions(b.Versions, after.Versions):
				s.Status, s.Deployed = ScriptUnchanged, after.Versions
			default:
				s.Deployed = after.Versions
				if err := rb.Rollback(d.ctx, script, b.Versions); err != nil {
					s.Status, s.Err = ScriptFailed, fmt.Errorf("roll back: %w", err)
				} else {
					s.Status = ScriptRolledBack
				}
			}
		}
		d.res.Scripts = append(d.res.Scripts, s)
		e := Event{Type: EventScript, Phase: PhaseRollback, Script: script, Status: s.Status, Versions: s.Before, Deployed: s.Deployed}
		if s.Err != nil {
			e.Error = s.Err.Error()
		}
		d.emit(e)
	}
	rolled := d.res.RolledBack()
	var failed, cannot []string
	for _, s := range d.res.Scripts {
		switch s.Status {
		case ScriptFailed:
			failed = append(failed, s.Script+" ("+s.Err.Error()+")")
		case ScriptNew:
			cannot = append(cannot, s.Script+" (new: it did not exist before this deploy)")
		case ScriptNoVersion:
			cannot = append(cannot, s.Script+" (it had no deployment before this deploy)")
		}
	}
	if len(failed) > 0 {
		d.emit(Event{Type: EventPhase, Phase: PhaseRollback, Status: StatusFailed, Error: "could not roll back " + strings.Join(failed, ", ")})
	} else {
		d.phase(PhaseRollback, StatusDone, fmt.Sprintf("%d Worker(s) rolled back", len(rolled)))
	}

	var msg strings.Builder
	fmt.Fprintf(&msg, "verification of stack %s failed after `up`", d.cfg.Stack)
	outcome := OutcomeVerifyFailed
	if len(rolled) > 0 {
		outcome = OutcomeRolledBack
		fmt.Fprintf(&msg, "; rolled back %s to the versions they served before", strings.Join(rolled, ", "))
		again := d.verify(PhaseReverify, v, outs)
		d.res.Reverified = &again
		if again {
			msg.WriteString(" (verification passes again)")
		} else {
			msg.WriteString(" (verification still fails after the rollback)")
		}
	} else {
		d.phase(PhaseReverify, StatusSkipped, "nothing was rolled back")
		msg.WriteString("; no Worker was rolled back")
	}
	if len(failed) > 0 {
		fmt.Fprintf(&msg, "; FAILED to roll back %s", strings.Join(failed, ", "))
	}
	if len(cannot) > 0 {
		fmt.Fprintf(&msg, "; cannot be rolled back: %s", strings.Join(cannot, ", "))
	}
	msg.WriteString(". R2 buckets and queues are never rolled back or deleted; Pulumi's state still records this deploy")
	return d.finish(outcome, errors.New(msg.String()), "")
}

func sameVersions(a, b []VersionShare) bool {
	key := func(vs []VersionShare) []string {
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = fmt.Sprintf("%s=%g", v.VersionID, v.Percentage)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

// progress forwards engine events as resource and diagnostic events; total
// is how many changing steps the preview expects (0: unknown).
func (d *deployer) progress(phase string, total int) Progress {
	return &progress{d: d, phase: phase, total: total}
}

type progress struct {
	d     *deployer
	phase string
	total int
	done  int
}

func (p *progress) Step(s Step) {
	e := Event{Type: EventResource, Phase: p.phase, Op: s.Op, URN: s.URN, ResourceType: s.Type}
	if s.Failed {
		e.Status = StatusFailed
		p.d.emit(e)
		return
	}
	// A provider's steps (pulumi:providers:cloudflare is created with the
	// stack, updated when its config changes) are not in the engine's
	// counts, so not in the preview's total either.
	if p.phase != PhaseUp || unchangedOp(s.Op) || strings.HasPrefix(s.Type, "pulumi:providers:") {
		return
	}
	p.done++
	e.Status, e.Done, e.Total = StatusDone, p.done, max(p.total, p.done)
	p.d.emit(e)
}

func (p *progress) Diagnostic(g Diagnostic) {
	if g.Severity != "error" && g.Severity != "warning" {
		return
	}
	p.d.emit(Event{Type: EventDiagnostic, Phase: p.phase, Severity: g.Severity, URN: g.URN, Message: g.Message})
}
