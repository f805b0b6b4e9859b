package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	"github.com/zerocost/zerocost/internal/outputs"
)

// AutoRunner is the Runner of a real stack: Pulumi's Automation API with the
// project folder as a local program source, so `zerocost deploy` and
// `pulumi up` deploy the same program (Pulumi.yaml: main: infra/). It runs the
// `pulumi` CLI, which needs a backend login and builds infra/ itself.
type AutoRunner struct {
	stack auto.Stack
	name  string
}

// OpenAuto selects the stack in projectDir, creating it when it does not
// exist (auto.UpsertStackLocalSource). env is added to every pulumi command's
// environment.
func OpenAuto(ctx context.Context, stack, projectDir string, env map[string]string) (*AutoRunner, error) {
	vars := map[string]string{"PULUMI_SKIP_UPDATE_CHECK": "true"}
	for k, v := range env {
		vars[k] = v
	}
	s, err := auto.UpsertStackLocalSource(ctx, stack, projectDir, auto.EnvVars(vars))
	if err != nil {
		return nil, autoErr(stack, "select stack "+stack, err)
	}
	return &AutoRunner{stack: s, name: stack}, nil
}

// Refresh reads every resource's state from Cloudflare into the stack.
func (r *AutoRunner) Refresh(ctx context.Context, p Progress) (Changes, error) {
	pump := startPump(p)
	res, err := r.stack.Refresh(ctx, optrefresh.EventStreams(pump.ch))
	summary := pump.wait()
	if err != nil {
		return nil, autoErr(r.name, "refresh", err)
	}
	return pick(summary, res.Summary.ResourceChanges), nil
}

// Preview computes the changes `up` would make.
func (r *AutoRunner) Preview(ctx context.Context, p Progress) (Changes, error) {
	pump := startPump(p)
	res, err := r.stack.Preview(ctx, optpreview.EventStreams(pump.ch))
	summary := pump.wait()
	if err != nil {
		return nil, autoErr(r.name, "preview", err)
	}
	if summary == nil {
		summary = Changes{}
		for op, n := range res.ChangeSummary {
			summary[string(op)] = n
		}
	}
	return summary, nil
}

// Up deploys and returns the stack's new outputs.
func (r *AutoRunner) Up(ctx context.Context, p Progress) (Changes, outputs.Stack, error) {
	pump := startPump(p)
	res, err := r.stack.Up(ctx, optup.EventStreams(pump.ch), optup.Message("zerocost deploy"))
	summary := pump.wait()
	if err != nil {
		return nil, nil, autoErr(r.name, "up", err)
	}
	outs, err := toStack(res.Outputs)
	if err != nil {
		return nil, nil, fmt.Errorf("up succeeded, but %w", err)
	}
	return pick(summary, res.Summary.ResourceChanges), outs, nil
}

// Outputs returns the stack's current outputs; a stack never deployed has none.
func (r *AutoRunner) Outputs(ctx context.Context) (outputs.Stack, error) {
	om, err := r.stack.Outputs(ctx)
	if err != nil {
		return nil, autoErr(r.name, "read outputs", err)
	}
	if len(om) == 0 {
		return outputs.Stack{}, nil
	}
	outs, err := toStack(om)
	if err != nil {
		return outputs.Stack{}, nil // exports, but none of zerocost's
	}
	return outs, nil
}

// Config reads one config value, decrypting secrets.
func (r *AutoRunner) Config(ctx context.Context, key string) (string, bool, error) {
	v, err := r.stack.GetConfig(ctx, key)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return "", false, nil
		}
		return "", false, autoErr(r.name, "read config "+key, err)
	}
	return v.Value, true, nil
}

func toStack(om auto.OutputMap) (outputs.Stack, error) {
	plain := make(map[string]any, len(om))
	for k, v := range om {
		plain[k] = v.Value
	}
	b, err := json.Marshal(plain)
	if err != nil {
		return nil, err
	}
	return outputs.Parse(b)
}

// pick prefers the engine's summary event, then the update's history entry.
func pick(summary Changes, history *map[string]int) Changes {
	if summary != nil {
		return summary
	}
	out := Changes{}
	if history != nil {
		for op, n := range *history {
			out[op] = n
		}
	}
	return out
}

// OpError is a failed pulumi command: what was run, the CLI's first error
// line and the end of its stderr (the full output is in Err).
type OpError struct {
	Op     string
	Stderr string
	Err    error
}

func (e *OpError) Error() string {
	msg := "pulumi " + e.Op + " failed: " + firstLine(e.Err.Error())
	if e.Stderr != "" {
		msg += "\n" + e.Stderr
	}
	return msg
}

func (e *OpError) Unwrap() error { return e.Err }

// stderrTail is how many lines of the CLI's stderr an OpError keeps.
const stderrTail = 20

// autoErr turns an Automation API error into a LockedError or an OpError.
func autoErr(stack, op string, err error) error {
	if auto.IsConcurrentUpdateError(err) {
		return &LockedError{Stack: stack, Err: err}
	}
	oe := &OpError{Op: op, Err: err}
	// autoError's text is "<error>\ncode: N\nstdout: ...\nstderr: ...\n".
	if _, stderr, ok := strings.Cut(err.Error(), "\nstderr: "); ok {
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if len(lines) > stderrTail {
			lines = lines[len(lines)-stderrTail:]
		}
		oe.Stderr = strings.TrimSpace(strings.Join(lines, "\n"))
	}
	return oe
}

// colorTag is a Pulumi colour directive, e.g. "<{%fg 1%}>" or "<{%reset%}>".
var colorTag = regexp.MustCompile(`<\{%[^%]*%\}>`)

// pump forwards one operation's engine events to a Progress and keeps the
// summary event's counts.
type pump struct {
	ch   chan events.EngineEvent
	done chan struct{}

	mu      sync.Mutex
	summary Changes
}

// pumpDrainTimeout bounds the wait for the Automation API to close the event
// channel after a command ends (it does unless it failed before the command
// started).
const pumpDrainTimeout = 10 * time.Second

func startPump(p Progress) *pump {
	pm := &pump{ch: make(chan events.EngineEvent), done: make(chan struct{})}
	go func() {
		defer close(pm.done)
		for e := range pm.ch {
			if e.Error != nil {
				continue
			}
			switch {
			case e.ResOutputsEvent != nil:
				m := e.ResOutputsEvent.Metadata
				p.Step(Step{Op: string(m.Op), URN: m.URN, Type: m.Type})
			case e.ResOpFailedEvent != nil:
				m := e.ResOpFailedEvent.Metadata
				p.Step(Step{Op: string(m.Op), URN: m.URN, Type: m.Type, Failed: true})
			case e.DiagnosticEvent != nil:
				g := e.DiagnosticEvent
				p.Diagnostic(Diagnostic{Severity: g.Severity, URN: g.URN, Message: strings.TrimSpace(colorTag.ReplaceAllString(g.Message, ""))})
			case e.SummaryEvent != nil:
				c := Changes{}
				for op, n := range e.SummaryEvent.ResourceChanges {
					c[string(op)] = n
				}
				pm.mu.Lock()
				pm.summary = c
				pm.mu.Unlock()
			}
		}
	}()
	return pm
}

// wait returns the summary once the event stream has ended.
func (pm *pump) wait() Changes {
	select {
	case <-pm.done:
	case <-time.After(pumpDrainTimeout):
	}
	pm.mu.Lock()
	defer pm.mu.Unlock()
	return pm.summary
}

var _ Runner = (*AutoRunner)(nil)
