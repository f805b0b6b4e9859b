// Package rotate is `zerocost keys rotate`: it issues a customer a new key
// with the same tier and budget, and lets the old ones expire after a grace
// period.
package rotate

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/apikeys"
	"github.com/zerocost/zerocost/internal/cmd/keys/keysutil"
	"github.com/zerocost/zerocost/internal/cmdutil"
)

// DefaultGrace is how long the old keys keep working.
const DefaultGrace = 24 * time.Hour

// Options are the command's inputs.
type Options struct {
	keysutil.Target
	Customer string
	Grace    time.Duration
	JSON     bool
}

// NewCmd returns the command; runF replaces the run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{Target: keysutil.Target{F: f}}
	cmd := &cobra.Command{
		Use:   "rotate --product P --customer NAME",
		Short: "Issue a customer a new key; the old ones expire after --grace",
		Long: `Issue a new key for a customer and print it once, with the tier and monthly
budget the customer has (they belong to the customer, not to a key). The
customer's other live keys keep working for --grace (default 24h), then expire;
one that expires sooner keeps its date. --grace 0 ends them now.

` + keysutil.RevocationBound,
		Example: `  CLOUDFLARE_API_TOKEN=... zerocost keys rotate --stack prod --product ai-relay --customer acme
  zerocost keys rotate --local --product ai-relay --customer acme --grace 1h --json`,
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(o, &o.Context, o.check, runF, Run),
	}
	keysutil.AddFlags(cmd, &o.Target)
	cmd.Flags().StringVar(&o.Customer, "customer", "", "the customer whose key to rotate (required)")
	cmd.Flags().DurationVar(&o.Grace, "grace", DefaultGrace, "how long the customer's previous keys keep working")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the new key as one JSON object, as create --json does")
	return cmd
}

func (o *Options) check() error {
	errs := []error{o.Target.Check()}
	if o.Customer == "" {
		errs = append(errs, errors.New("--customer is required: the customer whose key to rotate"))
	} else {
		errs = append(errs, apikeys.CheckCustomer(o.Customer))
	}
	if o.Grace < 0 || o.Grace > apikeys.MaxExpiryDays*24*time.Hour {
		errs = append(errs, fmt.Errorf("--grace %s: give 0 to %dd (e.g. 24h)", o.Grace, apikeys.MaxExpiryDays))
	}
	return errors.Join(errs...)
}

// Run rotates.
func Run(o *Options) error {
	k, err := o.Keys()
	if err != nil {
		return err
	}
	iss, err := k.Rotate(o.Ctx(), o.Customer, o.Grace)
	if iss.Key != "" {
		// The new key is stored: show it even if ending the old ones failed.
		if perr := o.PrintIssued("Rotated", iss, o.JSON); perr != nil {
			return perr
		}
	}
	if err != nil {
		return err
	}
	if len(iss.Changed) > 0 {
		fmt.Fprintf(o.F.IO.ErrOut, "The previous key(s) %s work until %s.\n", keysutil.Prefixes(iss.Changed), keysutil.Date(iss.Changed[0].Record.ExpiresAt))
	}
	return nil
}
