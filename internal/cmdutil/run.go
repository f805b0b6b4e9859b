package cmdutil

import (
	"context"

	"github.com/spf13/cobra"
)

// RunE is a command's RunE in gh's pattern: NewCmd builds the Options, the
// flags fill them, and RunE hands them on. ctx, when not nil, first receives
// the command's context; check, when not nil, then vets the options, its
// error a usage error (exit code 2); last, runF runs them when a test passed
// one to NewCmd, else run does.
func RunE[O any](opts *O, ctx *context.Context, check func() error, runF, run func(*O) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if ctx != nil {
			*ctx = cmd.Context()
		}
		if check != nil {
			if err := check(); err != nil {
				return ConfigError(err)
			}
		}
		if runF != nil {
			return runF(opts)
		}
		return run(opts)
	}
}
