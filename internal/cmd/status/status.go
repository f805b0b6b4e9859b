// Package status is `zerocost status`: today's use of every Workers Free
// daily limit (and the month's R2 allowances) for the stack's account, the
// stack's share, when each runs out, and an alert when one passes a
// threshold.
package status

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmd/cost/shared"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cost/freeuse"
)

// EnvWebhook holds the alert webhook's URL: an environment variable, never
// a flag, which CI logs and process lists show.
const EnvWebhook = "ZEROCOST_STATUS_WEBHOOK"

// DefaultSettle is how long status waits for analytics to arrive before it
// judges a crossing: Cloudflare's analytics show events within minutes (a
// measurement, not a documented bound; raise --settle if alerts go missing).
const DefaultSettle = 10 * time.Minute

// Options are the command's inputs.
type Options struct {
	IO  *cmdutil.IOStreams
	Now func() time.Time
	Ctx context.Context
	shared.Deployment

	Format    string
	Prices    string
	Threshold float64
	Every     time.Duration
	Settle    time.Duration
}

// NewCmd returns `zerocost status`; runF replaces its run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{IO: f.IO, Now: time.Now, Deployment: shared.NewDeployment(f)}
	cmd := &cobra.Command{
		Use:   "status --stack NAME [--threshold PERCENT]",
		Short: "Today's use of every Workers Free limit on the stack's account, and when each runs out",
		Long: `Read today's use (the UTC day so far) of every Workers Free daily limit from
Cloudflare's GraphQL Analytics API: Workers requests, Queues operations, D1
rows read and written, KV reads, writes, deletes and lists; and Analytics
Engine data points (no GraphQL dataset counts an account's, so the stack's
own, from the SQL API, stand as a lower bound). The limits are the
account's: status reads the whole account and shows the stack's share
beside it. R2's Class A and B operations are monthly allowances: month to
date; R2 storage: what is stored now. Each is shown against its limit (from
the price file) with the hour (or day) it runs out at the day's (month's)
rate so far. A read that fails is shown as unknown, never as zero, and the
command exits 1.

With --threshold PERCENT, a limit whose use passes PERCENT of it sends one
alert to the webhook in $` + EnvWebhook + ` (a JSON POST with a Slack-style
"text"). It keeps no state: each run alerts only for the crossings in its
window, the --every before the last --settle, so runs every --every (an
hourly schedule: docs/ci.md) alert once per limit per day.

Names come from the stack's plan, ids from its outputs (the pulumi CLI, or
--outputs FILE), the account from zerocost:accountId. The token comes from
CLOUDFLARE_API_TOKEN and needs Account Analytics: Read.`,
		Example: "  zerocost status --stack demo\n" +
			"  ZEROCOST_STATUS_WEBHOOK=https://hooks.example.com/... zerocost status --stack demo --threshold 80",
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(o, &o.Ctx, func() error { return check(o) }, runF, Run),
	}
	o.AddFlags(cmd)
	cmd.Flags().Float64Var(&o.Threshold, "threshold", 0, "alert when a limit's use passes this `PERCENT` (1-100) in the run's window; the webhook URL is $"+EnvWebhook)
	cmd.Flags().DurationVar(&o.Every, "every", time.Hour, "how often the schedule runs status: each run alerts for the crossings of that long a window")
	cmd.Flags().DurationVar(&o.Settle, "settle", DefaultSettle, "how long analytics take to arrive: the window ends that long before now")
	shared.AddFormatFlags(cmd, &o.Format, &o.Prices, freeuse.Formats)
	return cmd
}

func check(o *Options) error {
	if err := shared.CheckFormat(o.Format, freeuse.Formats, ""); err != nil {
		return err
	}
	if o.Threshold != 0 && !(o.Threshold > 0 && o.Threshold <= 100) {
		return fmt.Errorf("--threshold %v: give a percent of each limit, above 0 and at most 100", o.Threshold)
	}
	if o.Every < time.Minute || o.Every > 24*time.Hour || o.Settle < 0 || o.Settle > 24*time.Hour {
		return fmt.Errorf("--every %v / --settle %v: give --every from 1m to 24h and --settle from 0 to 24h", o.Every, o.Settle)
	}
	if o.Threshold > 0 {
		u := o.Getenv(EnvWebhook)
		if u == "" {
			return fmt.Errorf("--threshold needs the webhook URL in $%s (never a flag: CI logs and process lists show flags)", EnvWebhook)
		}
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			return fmt.Errorf("$%s is not an http(s) URL", EnvWebhook)
		}
	}
	return nil
}

// ErrUnknown says some limits could not be read.
var ErrUnknown = errors.New("some limits could not be read (shown as unknown)")

// Run reads the use, prints it and alerts.
func Run(o *Options) error {
	ss, stop, err := o.Open(o.Ctx, o.Prices)
	defer stop()
	if err != nil {
		return err
	}
	ctx := ss.Ctx
	s := freeuse.Read(ctx, ss.Client, ss.Prices, freeuse.Request{Stack: stackOf(ss), Now: o.Now(), Threshold: o.Threshold, Every: o.Every, Settle: o.Settle})
	if err := freeuse.WriteStatus(o.IO.Out, s, o.Format); err != nil {
		return err
	}
	var errs []error
	if a := s.Alerts(); a != nil && o.Threshold > 0 {
		if err := post(ctx, o.HTTPClient(), o.Getenv(EnvWebhook), a); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(o.IO.ErrOut, "alert sent: %s\n", a.Text)
		}
	}
	for _, u := range s.Uses {
		if u.Used == nil {
			errs = append(errs, ErrUnknown)
			break
		}
	}
	return errors.Join(errs...)
}
