// Package revoke is `zerocost keys revoke`: it revokes every key of a
// customer, or one key.
package revoke

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
	Key      string
}

// NewCmd returns the command; runF replaces the run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{Target: keysutil.Target{F: f}}
	cmd := &cobra.Command{
		Use:   "revoke --product P (--customer NAME | --key PREFIX)",
		Short: "Revoke a customer's keys, or one key",
		Long: `Revoke every key of a customer (--customer), or one key (--key: its prefix as
list shows it, zck_ and 8 characters, or the whole key). A revoked key's record
stays, so the product answers 401 saying the key was revoked. A whole key is
checked (format and checksum) before anything is read, so a mistyped one is
refused at once.

` + keysutil.RevocationBound,
		Example: `  CLOUDFLARE_API_TOKEN=... zerocost keys revoke --stack prod --product ai-relay --customer acme
  zerocost keys revoke --local --product ai-relay --key zck_Ab12Cd34`,
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(o, &o.Context, o.check, runF, Run),
	}
	keysutil.AddFlags(cmd, &o.Target)
	cmd.Flags().StringVar(&o.Customer, "customer", "", "revoke every key of this customer")
	cmd.Flags().StringVar(&o.Key, "key", "", "revoke this key: its `PREFIX` (zck_ and 8 characters) or the whole key")
	return cmd
}

func (o *Options) check() error {
	errs := []error{o.Target.Check()}
	switch {
	case (o.Customer == "") == (o.Key == ""):
		errs = append(errs, errors.New("give either --customer NAME (all of its keys) or --key PREFIX (one key)"))
	case o.Customer != "":
		errs = append(errs, apikeys.CheckCustomer(o.Customer))
	case !apikeys.IsDisplayPrefix(o.Key):
		if err := apikeys.Validate(o.Key); err != nil {
			errs = append(errs, fmt.Errorf("--key: %w (give the key's first %d characters as list shows them, or the whole key)", err, apikeys.DisplayLen))
		}
	}
	return errors.Join(errs...)
}

// Run revokes.
func Run(o *Options) error {
	k, err := o.Keys()
	if err != nil {
		return err
	}
	done, err := k.Revoke(o.Ctx(), apikeys.RevokeParams{Customer: o.Customer, Key: o.Key})
	if len(done) > 0 {
		fmt.Fprintf(o.F.IO.Out, "Revoked %d key(s) of %s: %s.\n", len(done), o.Product, keysutil.Prefixes(done))
	}
	if err != nil {
		return err
	}
	if len(done) == 0 {
		fmt.Fprintln(o.F.IO.Out, "Nothing to revoke: the key(s) named were revoked already.")
		return nil
	}
	bound := "2 minutes (Workers KV propagation, about 60 s, and the Worker's 60 s cache)"
	if o.Local {
		bound = "60 seconds (the Worker's cache; zerocost dev has no propagation)"
	}
	fmt.Fprintf(o.F.IO.ErrOut, "They stop working within %s.\n", bound)
	return nil
}
