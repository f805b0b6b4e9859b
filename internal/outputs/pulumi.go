package outputs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Reader reads a deployed stack's outputs.
type Reader interface {
	Outputs(ctx context.Context, projectDir, stack string) (Stack, error)
}

// ErrNoPulumi says the pulumi CLI is not on PATH.
var ErrNoPulumi = errors.New("the pulumi CLI is not on PATH")

// Pulumi runs `pulumi stack output --json --stack NAME` in the project.
// Secrets stay hidden (no --show-secrets): what zerocost exports is names,
// URLs and ids only.
type Pulumi struct {
	// LookPath finds the binary (default exec.LookPath).
	LookPath func(file string) (string, error)
}

// Outputs runs the CLI and parses what it prints.
func (p Pulumi) Outputs(ctx context.Context, projectDir, stack string) (Stack, error) {
	look := p.LookPath
	if look == nil {
		look = exec.LookPath
	}
	bin, err := look("pulumi")
	if err != nil {
		return nil, ErrNoPulumi
	}
	cmd := exec.CommandContext(ctx, bin, "stack", "output", "--json", "--stack", stack)
	cmd.Dir = projectDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		return nil, fmt.Errorf("`pulumi stack output --json --stack %s` failed: %v: %s", stack, err, msg)
	}
	out, err := Parse(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("`pulumi stack output --json --stack %s`: %w", stack, err)
	}
	return out, nil
}

// Read finds a deployed stack's outputs the one way the commands share: the
// file when one is given (pulumi stack output --json > outputs.json), else
// r (nil: the pulumi CLI) in the project folder.
func Read(ctx context.Context, file string, r Reader, projectDir, stack string) (Stack, error) {
	if file != "" {
		return ReadFile(file)
	}
	if r == nil {
		r = Pulumi{}
	}
	s, err := r.Outputs(ctx, projectDir, stack)
	if errors.Is(err, ErrNoPulumi) {
		return nil, fmt.Errorf("%w: give --outputs FILE (pulumi stack output --json --stack %s > outputs.json)", err, stack)
	}
	return s, err
}
