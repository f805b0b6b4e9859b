package cmdutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/stack"
)

// StackUse says which stacks a command may pick when --stack is not given:
// Local reports true when the command only reads the stack file (render,
// plan, dev, verify --local), which may then also be the project's only
// Pulumi.<stack>.yaml. A command that reads or changes a deployed stack acts
// only on a stack the user named (--stack) or selected (`pulumi stack
// select`).
type StackUse func() bool

var (
	// Local is the StackUse of a command that only reads the stack file.
	Local StackUse = func() bool { return true }
	// Deployed is the StackUse of a command that reads or changes a deployed stack.
	Deployed StackUse = func() bool { return false }
)

// LocalWhen is Local while *flag is true (a --local flag), else Deployed.
func LocalWhen(flag *bool) StackUse { return func() bool { return *flag } }

// selectedTimeout bounds `pulumi stack --show-name`, which reads only the
// backend's current-stack record (measured: 0.3 s with a file:// backend).
const selectedTimeout = 30 * time.Second

// AddStackFlag adds --stack to a command and, when it is not given, picks
// the stack before the command runs (ResolveStack) and says which on stderr.
func (f *Factory) AddStackFlag(cmd *cobra.Command, p *string, use StackUse) {
	cmd.Flags().StringVar(p, "stack", "", "stack whose Pulumi.<stack>.yaml to read (default: the stack selected in Pulumi, or for a local run the project's only Pulumi.<stack>.yaml)")
	// Cobra runs PreRunE instead of PreRun: this one runs a PreRunE set
	// before it, or the command's PreRun (also one set after it).
	preE := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if *p == "" {
			name, why, err := f.ResolveStack(c.Context(), use == nil || use())
			if err != nil {
				return ConfigError(err)
			}
			*p = name
			errOut := c.ErrOrStderr()
			if f.IO != nil {
				errOut = f.IO.ErrOut
			}
			fmt.Fprintf(errOut, "using stack %s (%s)\n", name, why)
		}
		if preE != nil {
			return preE(c, args)
		}
		if c.PreRun != nil {
			c.PreRun(c, args)
		}
		return nil
	}
}

// ResolveStack picks the stack of a command run without --stack: the stack
// selected in Pulumi (SelectedStack); for a local command, else the
// project's only Pulumi.<stack>.yaml. why says how it was picked. It fails
// listing the stack files it found.
func (f *Factory) ResolveStack(ctx context.Context, local bool) (name, why string, err error) {
	dir, err := f.Project()
	if err != nil {
		return "", "", err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	sel, selErr := f.selected(ctx, dir)
	if sel != "" {
		return sel, "selected in Pulumi", nil
	}
	files, err := StackFiles(dir)
	if err != nil {
		return "", "", err
	}
	if local && len(files) == 1 {
		return files[0], "the only Pulumi.<stack>.yaml in " + dir, nil
	}
	var b strings.Builder
	b.WriteString("no stack given: pass --stack NAME")
	if !local {
		b.WriteString(" or select one with `pulumi stack select NAME` (this command acts on a deployed stack only when it is named or selected)")
	}
	switch {
	case len(files) == 0:
		fmt.Fprintf(&b, "; %s holds no Pulumi.<stack>.yaml: create one with `zerocost init --stack NAME --pattern PATTERN --product NAME`", dir)
	default:
		fmt.Fprintf(&b, "; stacks found: %s", strings.Join(files, ", "))
	}
	if selErr != nil {
		fmt.Fprintf(&b, " (pulumi: %v)", selErr)
	}
	return "", "", errors.New(b.String())
}

func (f *Factory) selected(ctx context.Context, dir string) (string, error) {
	get := f.SelectedStack
	if get == nil {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, selectedTimeout)
	defer cancel()
	return get(ctx, dir)
}

// StackFiles lists the stacks with a Pulumi.<stack>.yaml in dir, sorted.
func StackFiles(dir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "Pulumi.*.yaml"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range matches {
		n := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), "Pulumi."), ".yaml")
		if n != "" && filepath.Base(m) != stack.ProjectFile {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// PulumiSelected is the production SelectedStack: `pulumi stack --show-name`
// run in the project folder with zerocost's environment (and so the
// project's backend: PULUMI_BACKEND_URL, Pulumi.yaml's backend.url or the
// `pulumi login` state). It returns "" and no error when the pulumi CLI is
// not on PATH, and "" with pulumi's message when no stack is selected.
func PulumiSelected(ctx context.Context, dir string) (string, error) {
	bin, err := exec.LookPath("pulumi")
	if err != nil {
		return "", nil
	}
	cmd := exec.CommandContext(ctx, bin, "stack", "--show-name", "--non-interactive")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PULUMI_SKIP_UPDATE_CHECK=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "error: "))
		if msg == "" {
			msg = err.Error()
		}
		return "", errors.New(msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}
