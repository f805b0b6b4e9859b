package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/zerocost/zerocost/internal/outputs"
)

// CLIRunner is the Runner of a real stack: it runs the `pulumi` CLI in the
// project folder, so `zerocost deploy` and `pulumi up` deploy the same
// program (Pulumi.yaml: main: infra/). The CLI needs a backend login and
// builds infra/ itself. Every command gets the environment zerocost runs
// in, plus PULUMI_SKIP_UPDATE_CHECK=true, PULUMI_DEBUG_COMMANDS=true (which
// enables --event-log) and Env; and --non-interactive, --color never, --cwd
// and --stack.
//
// refresh, preview and up write the engine's events to a temporary
// --event-log file, which is read while the command runs: resource steps
// and diagnostics go to the Progress as they happen, and the summary event
// gives the counts.
type CLIRunner struct {
	// Stack is the stack's name (or org/name); Dir the project folder.
	Stack string
	Dir   string
	// Env is added to every command's environment ("KEY=value").
	Env []string
	// Bin is the CLI to run: "pulumi" (found on PATH) unless set.
	Bin string
}

// OpenCLI selects the stack in projectDir, creating it when it does not
// exist (`pulumi stack select --create`). env is added to every pulumi
// command's environment.
func OpenCLI(ctx context.Context, stack, projectDir string, env map[string]string) (*CLIRunner, error) {
	r := &CLIRunner{Stack: stack, Dir: projectDir, Bin: "pulumi"}
	for k, v := range env {
		r.Env = append(r.Env, k+"="+v)
	}
	if _, err := r.run(ctx, "select stack "+stack, "", "stack", "select", "--create"); err != nil {
		return nil, err
	}
	return r, nil
}

// Refresh reads every resource's state from Cloudflare into the stack.
func (r *CLIRunner) Refresh(ctx context.Context, p Progress) (Changes, error) {
	l, err := r.engine(ctx, "refresh", "failed to refresh stack", p, "refresh", "--yes", "--skip-preview")
	if err != nil {
		return nil, err
	}
	return r.summary(ctx, l), nil
}

// Preview computes the changes `up` would make.
func (r *CLIRunner) Preview(ctx context.Context, p Progress) (Changes, error) {
	l, err := r.engine(ctx, "preview", "failed to run preview", p, "preview")
	if err != nil {
		return nil, err
	}
	if l.Summary == nil {
		// Without it deploy would take the preview for "no changes".
		return nil, &OpError{Op: "preview", Err: fmt.Errorf("failed to get preview summary: the CLI's event log had %d events and no summary", l.Events)}
	}
	return l.Summary, nil
}

// Up deploys and returns the stack's new outputs.
func (r *CLIRunner) Up(ctx context.Context, p Progress) (Changes, outputs.Stack, error) {
	l, err := r.engine(ctx, "up", "failed to run update", p, "up", "--yes", "--skip-preview", "--message", "zerocost deploy")
	if err != nil {
		return nil, nil, err
	}
	out, err := r.run(ctx, "read outputs", "", outputs.CLIArgs...)
	if err != nil {
		return nil, nil, fmt.Errorf("up succeeded, but %w", err)
	}
	outs, err := outputs.Parse(out)
	if err != nil {
		return nil, nil, fmt.Errorf("up succeeded, but %w", err)
	}
	return r.summary(ctx, l), outs, nil
}

// Outputs returns the stack's current outputs; a stack never deployed has
// none. The CLI runs under package outputs' secrets policy (no
// --show-secrets: the outputs hold no secret).
func (r *CLIRunner) Outputs(ctx context.Context) (outputs.Stack, error) {
	out, err := r.run(ctx, "read outputs", "", outputs.CLIArgs...)
	if err != nil {
		return nil, err
	}
	outs, err := outputs.ParseMaybeEmpty(out)
	if err != nil {
		return nil, &OpError{Op: "read outputs", Err: err}
	}
	return outs, nil
}

// configNotSet is the CLI's error for a key the stack does not set, e.g.
// "error: configuration key 'authToken' not found for stack 'demo'" (exit 1).
var configNotSet = regexp.MustCompile(`configuration key '[^']*' not found`)

// Config reads one config value, decrypting secrets.
func (r *CLIRunner) Config(ctx context.Context, key string) (string, bool, error) {
	out, err := r.run(ctx, "read config "+key, "", "config", "get", key, "--json")
	if err != nil {
		var oe *OpError
		if errors.As(err, &oe) && configNotSet.MatchString(oe.Stderr) {
			return "", false, nil
		}
		return "", false, err
	}
	var v struct {
		Value  string `json:"value"`
		Secret bool   `json:"secret"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return "", false, &OpError{Op: "read config " + key, Err: fmt.Errorf("`pulumi config get --json` printed %q: %w", firstLine(string(out)), err)}
	}
	return v.Value, true, nil
}

// summary is the summary event's counts, else those of the stack's newest
// history entry (what the update recorded), else none.
func (r *CLIRunner) summary(ctx context.Context, l *engineLog) Changes {
	if l.Summary != nil {
		return l.Summary
	}
	out := Changes{}
	b, err := r.run(ctx, "read history", "", "stack", "history", "--json", "--page-size", "1")
	if err != nil {
		return out
	}
	var h []struct {
		ResourceChanges map[string]int `json:"resourceChanges"`
	}
	if json.Unmarshal(b, &h) == nil && len(h) > 0 {
		for op, n := range h[0].ResourceChanges {
			out[op] = n
		}
	}
	return out
}

// engine runs an engine command (refresh, preview, up) with an event log,
// forwarding its events to p while it runs.
func (r *CLIRunner) engine(ctx context.Context, op, what string, p Progress, args ...string) (*engineLog, error) {
	dir, err := os.MkdirTemp("", "zerocost-pulumi-events-")
	if err != nil {
		return nil, &OpError{Op: op, Err: err}
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.jsonl")
	args = append(args, "--event-log", path)

	exited := make(chan struct{})
	tailed := startTail(path, p, exited)
	_, runErr := r.runTail(ctx, op, what, exited, args...)
	log, err := tailed()
	if runErr != nil {
		return log, runErr
	}
	if err != nil {
		return log, &OpError{Op: op, Err: fmt.Errorf("read the event log: %w", err)}
	}
	return log, nil
}

// Lock conflicts, as the CLI words them: a self-managed backend's lock file,
// and Pulumi Cloud's update in progress (the texts the Automation API's
// IsConcurrentUpdateError looks for).
var lockedTexts = []string{"the stack is currently locked by", "[409] Conflict: Another update is currently in progress."}

// stderrTail is how many lines of the CLI's stderr an OpError keeps.
const stderrTail = 20

// interruptGrace is how long a pulumi command may take to stop after it
// was interrupted (the context was cancelled) before it is killed.
const interruptGrace = 10 * time.Second

func (r *CLIRunner) run(ctx context.Context, op, what string, args ...string) ([]byte, error) {
	return r.runTail(ctx, op, what, nil, args...)
}

// runTail runs `pulumi ARGS --stack S` in the project folder and returns its
// stdout. exited, when not nil, is closed once the command has ended. A
// failure is a LockedError when the CLI says another update holds the
// stack, else an OpError; what prefixes the cause.
func (r *CLIRunner) runTail(ctx context.Context, op, what string, exited chan struct{}, args ...string) ([]byte, error) {
	if exited != nil {
		defer close(exited)
	}
	bin := r.Bin
	if bin == "" {
		bin = "pulumi"
	}
	full := append([]string{"--non-interactive", "--color", "never", "--cwd", r.Dir}, args...)
	full = append(full, "--stack", r.Stack)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Dir = r.Dir
	cmd.Env = append(os.Environ(), r.Env...)
	cmd.Env = append(cmd.Env, "PULUMI_SKIP_UPDATE_CHECK=true", "PULUMI_DEBUG_COMMANDS=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A cancelled deploy interrupts pulumi, as one Ctrl-C does: it stops
	// after the steps in flight and releases the stack's lock. The command
	// runs in its own process group so that a Ctrl-C in the terminal reaches
	// it only through here (a second interrupt would make it stop at once).
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return interrupt(cmd.Process) }
	cmd.WaitDelay = interruptGrace
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	if what != "" {
		err = fmt.Errorf("%s: %w", what, err)
	}
	oe := &OpError{Op: op, Stderr: tail(stderr.String(), stderrTail), Err: err}
	for _, text := range lockedTexts {
		if strings.Contains(stderr.String(), text) {
			return nil, &LockedError{Stack: r.Stack, Err: oe}
		}
	}
	return nil, oe
}

// tail is the last n lines of s, trimmed.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// OpError is a failed pulumi command: what was run, the cause (the CLI's
// exit status) and the end of its stderr.
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

var _ Runner = (*CLIRunner)(nil)
