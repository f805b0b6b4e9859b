// Package cmdutil holds what every zerocost command shares: the IO streams, the
// project and stack lookup, and exit codes. Commands get it injected, so tests
// run them against buffers and temporary projects.
package cmdutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/stack"
)

// IOStreams are a command's standard streams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// System returns the process's streams.
func System() *IOStreams { return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr} }

// Test returns streams backed by buffers.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: errOut}, out, errOut
}

// Factory gives commands their dependencies.
type Factory struct {
	IO *IOStreams
	// ProjectDir is --project-dir, or "" to search upwards from the working directory.
	ProjectDir string
	// HTTPClient is used for every HTTP call a command makes.
	HTTPClient func() *http.Client
	// Getenv reads the environment (tests replace it).
	Getenv func(string) string
	// SelectedStack returns the stack selected in Pulumi for the project in
	// dir, "" when none (PulumiSelected; nil: never one).
	SelectedStack func(ctx context.Context, dir string) (string, error)
}

// New returns the production factory.
func New() *Factory {
	return &Factory{IO: System(), HTTPClient: func() *http.Client { return http.DefaultClient }, Getenv: os.Getenv, SelectedStack: PulumiSelected}
}

// Env reads the environment variable key through Getenv. A Factory without
// Getenv sees an empty environment, so a test that sets none reads nothing of
// the machine's.
func (f *Factory) Env(key string) string {
	if f.Getenv == nil {
		return ""
	}
	return f.Getenv(key)
}

// Client is the HTTP client for a command's calls: HTTPClient's, or
// http.DefaultClient when there is none.
func (f *Factory) Client() *http.Client {
	if f.HTTPClient != nil {
		if c := f.HTTPClient(); c != nil {
			return c
		}
	}
	return http.DefaultClient
}

// Project finds the project folder.
func (f *Factory) Project() (string, error) {
	if f.ProjectDir != "" {
		return stack.FindProjectDir(f.ProjectDir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return stack.FindProjectDir(wd)
}

// Loaded is a stack's config and plan.
type Loaded struct {
	ProjectDir string
	Config     *stack.Config
	Plan       *plan.Plan
}

// Load reads the stack's config and builds its plan. Its errors are
// configuration errors (exit code 2).
func (f *Factory) Load(stackName string) (*Loaded, error) {
	dir, err := f.Project()
	if err != nil {
		return nil, ConfigError(err)
	}
	cfg, err := stack.LoadFile(dir, stackName)
	if err != nil {
		return nil, ConfigError(err)
	}
	p, err := plan.Build(cfg, dir)
	if err != nil {
		return nil, ConfigError(fmt.Errorf("stack %s: %w", stackName, err))
	}
	return &Loaded{ProjectDir: dir, Config: cfg, Plan: p}, nil
}

// ExitError carries a process exit code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1 // a check or an operation failed
	ExitUsage  = 2 // bad flags, arguments or configuration
)

// ConfigError marks err as a usage or configuration error.
func ConfigError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// ExitCode maps an error from a command to the process's exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailed
}
