package outputs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// The secrets policy of every reader of a stack's outputs (verify, jobs,
// deploy, cost report, status): `pulumi stack output --json` runs WITHOUT
// --show-secrets. The outputs are names, ids and URLs, never a secret
// (infra's tests check what it exports), so no reader needs a secret's
// value; and without --show-secrets the CLI decrypts nothing, so reading
// outputs needs no secrets passphrase and no secret ever reaches zerocost.
// A value the CLI does print as "[secret]" is not a product object: Parse
// skips it, and a reader that wants that product says it is not in the
// outputs.

// CLIArgs are the arguments of the one `pulumi` command that reads a
// stack's outputs (the caller adds --stack and its own global flags).
var CLIArgs = []string{"stack", "output", "--json"}

// Reader reads a deployed stack's outputs.
type Reader interface {
	Outputs(ctx context.Context, projectDir, stack string) (Stack, error)
}

// ErrNoPulumi says the pulumi CLI is not on PATH.
var ErrNoPulumi = errors.New("the pulumi CLI is not on PATH")

// Pulumi is the Reader that runs `pulumi stack output --json --stack NAME`
// in the project folder.
type Pulumi struct {
	// LookPath finds the binary (default exec.LookPath).
	LookPath func(file string) (string, error)
}

// Outputs runs the CLI and parses what it prints. Without the CLI on PATH
// the error is ErrNoPulumi.
func (p Pulumi) Outputs(ctx context.Context, projectDir, stack string) (Stack, error) {
	look := p.LookPath
	if look == nil {
		look = exec.LookPath
	}
	bin, err := look("pulumi")
	if err != nil {
		return nil, ErrNoPulumi
	}
	args := append(append([]string{}, CLIArgs...), "--stack", stack)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = projectDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	what := "`pulumi " + strings.Join(args, " ") + "`"
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		return nil, fmt.Errorf("%s failed: %v: %s", what, err, msg)
	}
	out, err := Parse(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// Read finds a deployed stack's outputs the one way the commands share: the
// file when one is given (their --outputs flag: pulumi stack output --json >
// outputs.json), else r (nil: Pulumi{}) in the project folder. Without a
// file and without the pulumi CLI the error wraps ErrNoPulumi: a command
// that can do without outputs (verify, jobs: the plan's URLs) tests for it
// with errors.Is; one that cannot (cost report, status) passes it on, and it
// says how to give a file.
func Read(ctx context.Context, file string, r Reader, projectDir, stack string) (Stack, error) {
	if file != "" {
		out, err := ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--outputs: %w", err)
		}
		return out, nil
	}
	if r == nil {
		r = Pulumi{}
	}
	s, err := r.Outputs(ctx, projectDir, stack)
	switch {
	case errors.Is(err, ErrNoPulumi):
		return nil, fmt.Errorf("%w: give --outputs FILE (pulumi stack output --json --stack %s > outputs.json)", err, stack)
	case err != nil:
		return nil, fmt.Errorf("%w\n(or pass the outputs with --outputs FILE)", err)
	}
	return s, nil
}

// ParseMaybeEmpty is Parse for a stack that may not be deployed yet: an
// empty document, or one naming no zerocost product, is an empty Stack;
// only a document that is not a JSON object is an error.
func ParseMaybeEmpty(data []byte) (Stack, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("`pulumi stack output --json` printed no JSON object: %w", err)
	}
	out, err := Parse(data)
	if err != nil {
		return Stack{}, nil
	}
	return out, nil
}
