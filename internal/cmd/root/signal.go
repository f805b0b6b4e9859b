package root

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Signals cancel the context every command runs under: Ctrl-C (SIGINT), a
// stop from a supervisor or CI (SIGTERM) and a closed terminal (SIGHUP).
// A command sees the cancellation through cmd.Context() (cmdutil.RunE hands
// it to the Options' Context), stops its calls and cleans up: deploy
// interrupts pulumi so the stack's lock is released, dev stops workerd.
var Signals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// Execute runs the command tree under that one signal-aware context. While
// it runs, further signals are caught too, so a second Ctrl-C does not kill
// the process in the middle of its cleanup.
func Execute(cmd *cobra.Command) error {
	ctx, stop := signal.NotifyContext(context.Background(), Signals...)
	defer stop()
	return cmd.ExecuteContext(ctx)
}
