// Package stackinput reads what a forecast prices, from the working tree or
// from a git revision: a stack's Pulumi.<stack>.yaml and the usage profile
// it names (zerocost:usageProfile) or the one given. `zerocost cost
// forecast`, `cost diff` and the deploy's forecast share it.
package stackinput

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/stack"
)

// Tree reads a project's files by their path relative to the project
// folder (slash-separated).
type Tree interface {
	ReadFile(ctx context.Context, rel string) ([]byte, error)
	// String says where the files come from: "working tree", "git main".
	String() string
}

// Dir is the project folder on disk.
type Dir string

// ReadFile reads a file of the folder.
func (d Dir) ReadFile(_ context.Context, rel string) ([]byte, error) {
	return os.ReadFile(filepath.Join(string(d), filepath.FromSlash(rel)))
}

func (d Dir) String() string { return "working tree" }

// Git is a revision of the git repository holding the project folder.
type Git struct {
	// Dir is the project folder (in the repository's working tree).
	Dir string
	// Ref is any revision git names: a branch, a tag, a commit, HEAD~1.
	Ref string
}

// ReadFile runs `git show REF:./rel` in the project folder: the path is the
// same relative to the project folder whatever its place in the repository.
func (g Git) ReadFile(ctx context.Context, rel string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", "show", g.Ref+":./"+rel)
	cmd.Dir = g.Dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if strings.Contains(msg, "does not exist") || strings.Contains(msg, "exists on disk, but not in") {
			return nil, fmt.Errorf("%s: %s: %w", g, rel, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("%s: git show %s:./%s: %v: %s", g, g.Ref, rel, err, msg)
	}
	return out.Bytes(), nil
}

func (g Git) String() string { return "git " + g.Ref }

// ErrNoProfile says the stack names no usage profile and none was given.
var ErrNoProfile = errors.New("no usage profile")

// Input is a stack and the usage profile priced against it.
type Input struct {
	// Config is the stack's configuration; nil when none was asked for.
	Config  *stack.Config
	Profile *cost.Profile
}

// Load reads stackName's configuration from t (none when stackName is "")
// and the usage profile: usage (relative to the project folder) when given,
// else the stack's zerocost:usageProfile. With a stack the profile gives
// only traffic (cost.ParseProfileFor).
func Load(ctx context.Context, t Tree, stackName, usage string) (*Input, error) {
	in := &Input{}
	var facts *cost.StackFacts
	if stackName != "" {
		file := filepath.Base(stack.FilePath("", stackName))
		data, err := t.ReadFile(ctx, file)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: stack %s has no %s", t, stackName, file)
		}
		if err != nil {
			return nil, err
		}
		values, err := stack.ParseYAML(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", t, file, err)
		}
		if in.Config, err = stack.FromValues(stackName, values); err != nil {
			return nil, fmt.Errorf("%s: %s:\n%w", t, file, err)
		}
		facts = cost.FactsOf(in.Config)
		if usage == "" {
			usage = stack.UsageProfile(values)
		}
		if usage == "" {
			return nil, fmt.Errorf("%s: stack %s names no usage profile: set %s:%s in %s, or give --usage FILE: %w", t, stackName, stack.Namespace, stack.KeyUsageProfile, file, ErrNoProfile)
		}
	}
	if usage == "" {
		return nil, errors.New("no usage profile: give --usage FILE, or --stack NAME of a stack that names one (zerocost:usageProfile)")
	}
	data, err := t.ReadFile(ctx, usage)
	if err != nil {
		return nil, fmt.Errorf("%s: usage profile: %w", t, err)
	}
	if in.Profile, err = cost.ParseProfileFor(usage, data, facts); err != nil {
		return nil, err
	}
	return in, nil
}

// Rel turns a path given on the command line (relative to the working
// directory, or absolute) into one relative to the project folder.
func Rel(projectDir, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	dir, err := filepath.Abs(projectDir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(rel), nil
}

// Files is a copy of a project's files in another folder (a base to diff
// against without git).
type Files struct{ Dir string }

// ReadFile reads a file of the folder.
func (f Files) ReadFile(ctx context.Context, rel string) ([]byte, error) {
	return Dir(f.Dir).ReadFile(ctx, rel)
}

func (f Files) String() string { return "files in " + f.Dir }
