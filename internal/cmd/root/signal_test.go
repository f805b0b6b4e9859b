package root

import (
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// A signal cancels the context the command runs under.
func TestExecuteCancelsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT} {
		cmd := &cobra.Command{Use: "x", RunE: func(c *cobra.Command, _ []string) error {
			if err := syscall.Kill(syscall.Getpid(), sig); err != nil {
				return err
			}
			select {
			case <-c.Context().Done():
				return nil
			case <-time.After(10 * time.Second):
				t.Errorf("%v did not cancel the command's context", sig)
				return nil
			}
		}}
		cmd.SetArgs([]string{})
		if err := Execute(cmd); err != nil {
			t.Fatal(err)
		}
	}
}
