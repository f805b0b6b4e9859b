package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/zerocost/zerocost/internal/outputs"
)

// OutputsSource reads a deployed stack's outputs.
type OutputsSource interface {
	Outputs(ctx context.Context, projectDir, stack string) (outputs.Stack, error)
}

// ErrNoPulumi says the pulumi CLI is not on PATH.
var ErrNoPulumi = errors.New("the pulumi CLI is not on PATH")

// PulumiCLI runs `pulumi stack output --json --stack NAME` in the project.
// Secrets stay hidden: verify needs URLs and ids only.
type PulumiCLI struct {
	// LookPath finds the binary (default exec.LookPath).
	LookPath func(file string) (string, error)
}

// Outputs runs the CLI and parses what it prints.
func (p PulumiCLI) Outputs(ctx context.Context, projectDir, stack string) (outputs.Stack, error) {
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
	out, err := outputs.Parse(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("`pulumi stack output --json --stack %s`: %w", stack, err)
	}
	return out, nil
}
