// Package shared holds what the verbs of `zerocost cost` (forecast, report,
// diff) and `zerocost status` share: their format and plan flags, the
// signal-aware context, and where a deployed stack's outputs come from.
package shared

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/prices"
)

// Environment variables the commands that read Cloudflare's API use.
const (
	EnvAPIToken = cfapi.EnvToken
	EnvAPIURL   = cfapi.EnvBaseURL
)

// AddFormatFlags adds --format (one of formats, the first the default) and
// --prices.
func AddFormatFlags(cmd *cobra.Command, format, priceFile *string, formats []string) {
	cmd.Flags().StringVar(format, "format", formats[0], "output format: "+strings.Join(formats, ", "))
	cmd.Flags().StringVar(priceFile, "prices", "", "price `FILE` to use instead of the embedded "+prices.CurrentPath)
}

// CheckFormat vets --format and --plan ("" is the default plan).
func CheckFormat(format string, formats []string, plan string) error {
	if !slices.Contains(formats, format) {
		return fmt.Errorf("--format %q: use %s", format, strings.Join(formats, ", "))
	}
	if plan != "" && plan != cost.Free && plan != cost.Paid {
		return fmt.Errorf("--plan %q: use free (Workers Free) or paid (Workers Paid)", plan)
	}
	return nil
}

// Context is the command's context, cancelled by Ctrl-C or SIGTERM, so
// that an API call or a git read stops with the command.
func Context(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}
