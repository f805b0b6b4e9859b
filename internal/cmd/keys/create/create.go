// Package create is `zerocost keys create`: it issues a customer key for a
// product and prints it once.
package create

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/apikeys"
	"github.com/zerocost/zerocost/internal/cmd/keys/keysutil"
	"github.com/zerocost/zerocost/internal/cmdutil"
)

// Options are the command's inputs.
type Options struct {
	keysutil.Target
	Customer string
	Expires  string
	Budget   float64
	Tier     string
	JSON     bool
	// BudgetSet is whether --monthly-budget-usd was given.
	BudgetSet bool
}

// NewCmd returns the command; runF replaces the run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{Target: keysutil.Target{F: f}}
	cmd := &cobra.Command{
		Use:   "create --product P --customer NAME",
		Short: "Issue a customer key and print it once",
		Long: `Issue a key for a customer of a product and print it once: zerocost stores
only its SHA-256 hash (in the product's KEYS namespace of Workers KV), so it
cannot be shown again. A key looks like zck_ and 36 letters and digits, the
last 6 a checksum: secret scanners can spot it, and a mistyped key is refused
before any lookup.

Tier and monthly budget belong to the customer, not to a key: creating a key
for a customer who has others rewrites their live keys with this key's tier
and budget (a flag left out means the default: tier standard, no budget).

` + keysutil.RevocationBound,
		Example: `  CLOUDFLARE_API_TOKEN=... zerocost keys create --stack prod --product ai-relay --customer acme --monthly-budget-usd 25
  zerocost keys create --local --product ai-relay --customer acme --expires 30d --json`,
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(o, &o.Context, o.check, runF, Run),
	}
	keysutil.AddFlags(cmd, &o.Target)
	fl := cmd.Flags()
	fl.StringVar(&o.Customer, "customer", "", "the customer's name: lower-case letters, digits, '_', '.', '-' (required)")
	fl.StringVar(&o.Expires, "expires", "", "when the key expires: `YYYY-MM-DD` (00:00 UTC that day) or Nd, N days from now (default: never)")
	fl.Float64Var(&o.Budget, "monthly-budget-usd", 0, "the customer's monthly model budget in US dollars (default: none)")
	fl.StringVar(&o.Tier, "tier", apikeys.DefaultTier, "the customer's rate-limit tier")
	fl.BoolVar(&o.JSON, "json", false, "print one JSON object: {key, prefix, customer, product, stack, created_at, expires_at, monthly_budget_usd, tier}")
	cmd.PreRun = func(c *cobra.Command, _ []string) { o.BudgetSet = c.Flags().Changed("monthly-budget-usd") }
	return cmd
}

func (o *Options) check() error {
	errs := []error{o.Target.Check()}
	if o.Customer == "" {
		errs = append(errs, errors.New("--customer is required: the customer the key is for"))
	} else {
		errs = append(errs, apikeys.CheckCustomer(o.Customer))
	}
	errs = append(errs, apikeys.CheckTier(o.Tier))
	if o.BudgetSet {
		errs = append(errs, apikeys.CheckBudget(o.Budget))
	}
	if o.Expires != "" {
		_, err := apikeys.ParseExpires(o.Expires, o.Clock())
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Run issues the key.
func Run(o *Options) error {
	p := apikeys.CreateParams{Customer: o.Customer, Tier: o.Tier}
	if o.BudgetSet {
		b := o.Budget
		p.MonthlyBudgetUSD = &b
	}
	if o.Expires != "" {
		t, err := apikeys.ParseExpires(o.Expires, o.Clock())
		if err != nil {
			return cmdutil.ConfigError(err)
		}
		p.ExpiresAt = &t
	}
	k, err := o.Keys()
	if err != nil {
		return err
	}
	if err := o.CheckTier(o.Tier); err != nil {
		return err
	}
	iss, err := k.Create(o.Ctx(), p)
	if err != nil {
		return err
	}
	if err := o.PrintIssued("Created", iss, o.JSON); err != nil {
		return err
	}
	if len(iss.Changed) > 0 {
		fmt.Fprintf(o.F.IO.ErrOut, "%s's other live keys (%s) now have tier %s and monthly budget %s too.\n",
			o.Customer, keysutil.Prefixes(iss.Changed), iss.Record.Tier, keysutil.Budget(iss.Record.MonthlyBudgetUSD))
	}
	return nil
}
