// Package list is `zerocost keys list`: a product's customers and their
// keys' prefixes, dates and limits. It never shows a key: none is stored.
package list

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmd/keys/keysutil"
	"github.com/zerocost/zerocost/internal/cmdutil"
)

// Options are the command's inputs.
type Options struct {
	keysutil.Target
	Customer string
	JSON     bool
}

// NewCmd returns the command; runF replaces the run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{Target: keysutil.Target{F: f}}
	cmd := &cobra.Command{
		Use:   "list --product P",
		Short: "List a product's customers and keys (prefixes only, never a key)",
		Long: `List a product's keys: customer, prefix (the key's first 12 characters),
tier, monthly budget, when each was created and expires, and whether it is live,
expired or revoked. Keys themselves are never shown: only their hashes are
stored. It reads the keys' KV metadata (one KV list call per 1,000 keys).

` + keysutil.RevocationBound,
		Example: `  CLOUDFLARE_API_TOKEN=... zerocost keys list --stack prod --product ai-relay
  zerocost keys list --local --product ai-relay --json`,
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(o, &o.Context, o.Target.Check, runF, Run),
	}
	keysutil.AddFlags(cmd, &o.Target)
	cmd.Flags().StringVar(&o.Customer, "customer", "", "list this customer's keys only")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array of {prefix, customer, product, stack, created_at, expires_at, monthly_budget_usd, tier, revoked_at, state}")
	return cmd
}

// Run lists the keys.
func Run(o *Options) error {
	k, err := o.Keys()
	if err != nil {
		return err
	}
	entries, err := k.Store.List(o.Ctx())
	if err != nil {
		return err
	}
	now := o.Clock()
	rows := []keysutil.ListJSON{}
	for _, e := range entries {
		if o.Customer != "" && e.Record.Customer != o.Customer {
			continue
		}
		rows = append(rows, keysutil.ListJSON{KeyJSON: keysutil.JSONOf(o.Stack, "", e.Record), RevokedAt: e.Record.RevokedAt, State: e.Record.State(now)})
	}
	if o.JSON {
		return keysutil.WriteJSON(o.F.IO.Out, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintf(o.F.IO.Out, "%s has no keys. Issue one with: zerocost keys create --stack %s --product %s --customer NAME\n", o.Product, o.Stack, o.Product)
		return nil
	}
	tw := tabwriter.NewWriter(o.F.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CUSTOMER\tPREFIX\tTIER\tMONTHLY BUDGET\tCREATED\tEXPIRES\tSTATE")
	for _, r := range rows {
		state := r.State
		if r.RevokedAt != nil {
			state += " " + keysutil.Date(r.RevokedAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Customer, r.Prefix, r.Tier, keysutil.Budget(r.MonthlyBudgetUSD),
			keysutil.Date(&r.CreatedAt), keysutil.Date(r.ExpiresAt), state)
	}
	return tw.Flush()
}
