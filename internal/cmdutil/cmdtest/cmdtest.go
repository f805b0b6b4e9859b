// Package cmdtest helps the commands' tests.
package cmdtest

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmdutil"
)

// Selected is a Factory.SelectedStack for which Pulumi has name selected.
func Selected(name string) func(context.Context, string) (string, error) {
	return func(context.Context, string) (string, error) { return name, nil }
}

// Parse builds a command with its NewCmd and a Factory on which Pulumi has
// the stack demo selected (and nothing else), executes it on
// args with a runF that keeps the options instead of running them, and
// returns those options: nil when the flags or the command's checks stopped
// it first, with their error. What the command prints is dropped.
func Parse[O any](newCmd func(*cmdutil.Factory, func(*O) error) *cobra.Command, args ...string) (*O, error) {
	var got *O
	cmd := newCmd(&cmdutil.Factory{SelectedStack: Selected("demo")}, func(o *O) error { got = o; return nil })
	if args == nil {
		args = []string{} // else cobra parses the test binary's own arguments
	}
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.Execute()
	return got, err
}

// Execute runs cmd on args (none when nil) with its output and errors going
// to ios, as the root command sends them.
func Execute(cmd *cobra.Command, ios *cmdutil.IOStreams, args ...string) error {
	if args == nil {
		args = []string{} // else cobra parses the test binary's own arguments
	}
	cmd.SetArgs(args)
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)
	return cmd.Execute()
}

// Project is a temporary project folder holding copies of the named files
// of the folder from (Pulumi.yaml, Pulumi.demo.yaml, ...).
func Project(t testing.TB, from string, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
