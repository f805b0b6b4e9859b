// Package keysutil is what the `zerocost keys` subcommands share: the flags
// that name a product's KEYS namespace (--stack, --product, --local,
// --namespace-id, ...), finding that namespace on a deployed stack or in a
// running `zerocost dev`, and the apikeys client over it.
package keysutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/apikeys"
	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/stack"
)

// Environment variables the commands read.
const (
	EnvAPIToken = cfapi.EnvToken
	EnvAPIURL   = cfapi.EnvBaseURL
)

// RevocationBound is what every subcommand's help says about revocation:
// the Worker caches each key's record in its isolate for 60 s, and a
// deployed KV namespace takes up to about 60 s to propagate a write
// (Cloudflare docs, "How KV works").
const RevocationBound = `A change to a key (revoke, or the expiry rotate sets) takes effect within 2
minutes on a deployed stack (Workers KV propagates a write within about 60
seconds, and the Worker caches a key's record for 60 seconds), and within 60
seconds under zerocost dev (no propagation, the same cache). An expiry already
in a key's record takes effect at its time.`

// Target is the flags every subcommand takes, and the hooks tests set.
type Target struct {
	F           *cmdutil.Factory
	Stack       string
	Product     string
	Local       bool
	OutputsFile string
	NamespaceID string
	APIURL      string

	Context context.Context
	// Test hooks (no flags): StateFile is the dev state file (default
	// <project>/.zerocost/dev/<stack>.json); Outputs reads a deployed
	// stack's outputs when --outputs is not given (default: the pulumi
	// CLI); Now and Rand pass to apikeys.Keys.
	StateFile string
	Outputs   outputs.Reader
	Now       func() time.Time
	Rand      io.Reader

	planProduct *plan.Product // set by Keys
}

// CheckTier says whether the product has the tier: a door limiter
// DOOR_<TIER> in its plan. Call it after Keys.
func (t *Target) CheckTier(tier string) error {
	if t.planProduct == nil || t.planProduct.Binding(contract.Door(tier)) != nil {
		return nil
	}
	var tiers []string
	for _, b := range t.planProduct.Doors() {
		tiers = append(tiers, strings.ToLower(strings.TrimPrefix(b.Name, contract.DoorPrefix)))
	}
	return cmdutil.ConfigError(fmt.Errorf("--tier %s: %s has no such tier (it has %s; tiers are set per product in the stack)", tier, t.Product, strings.Join(tiers, ", ")))
}

// AddFlags adds the shared flags.
func AddFlags(cmd *cobra.Command, t *Target) {
	t.F.AddStackFlag(cmd, &t.Stack, cmdutil.LocalWhen(&t.Local))
	fl := cmd.Flags()
	fl.StringVar(&t.Product, "product", "", "the product whose keys to manage (required)")
	fl.BoolVar(&t.Local, "local", false, "manage the keys of the stack's running zerocost dev")
	fl.StringVar(&t.OutputsFile, "outputs", "", "`FILE` of pulumi stack output --json for the deployed stack (default: ask the pulumi CLI)")
	fl.StringVar(&t.NamespaceID, "namespace-id", "", "the product's KEYS namespace id (default: from the stack's outputs)")
	fl.StringVar(&t.APIURL, "cloudflare-api-url", "", "Cloudflare API base URL (default $"+EnvAPIURL+", else "+cfapi.DefaultBaseURL+")")
}

// Check vets the shared flags.
func (t *Target) Check() error {
	var errs []error
	if t.Product == "" {
		errs = append(errs, errors.New("--product is required: the product whose keys to manage"))
	}
	if t.Local && (t.OutputsFile != "" || t.NamespaceID != "" || t.APIURL != "") {
		errs = append(errs, errors.New("--local takes the namespace and the API from the running zerocost dev: leave out --outputs, --namespace-id and --cloudflare-api-url"))
	}
	return errors.Join(errs...)
}

// Ctx is the command's context, or Background.
func (t *Target) Ctx() context.Context {
	if t.Context != nil {
		return t.Context
	}
	return context.Background()
}

// Clock is Now, or time.Now.
func (t *Target) Clock() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Keys finds the product's KEYS namespace and returns its keys.
func (t *Target) Keys() (*apikeys.Keys, error) {
	l, err := t.F.Load(t.Stack)
	if err != nil {
		return nil, err
	}
	pr := l.Plan.Product(t.Product)
	if pr == nil {
		return nil, cmdutil.ConfigError(fmt.Errorf("--product %s: stack %s has no such product (it has %s)", t.Product, t.Stack, productNames(l.Plan)))
	}
	if !pr.HasKeys() {
		return nil, cmdutil.ConfigError(fmt.Errorf("%s is public (access: %s): it takes no customer keys; set its access to %s and deploy (or restart zerocost dev) first", t.Product, pr.Access, stack.AccessKeys))
	}
	t.planProduct = pr
	var ns namespace
	if t.Local {
		ns, err = t.localNamespace(l.ProjectDir, l.Plan.AccountID)
	} else {
		ns, err = t.deployedNamespace(l)
	}
	if err != nil {
		return nil, err
	}
	cfg := cfapi.Config{Token: ns.token, BaseURL: ns.baseURL, HTTPClient: t.F.Client(), MaxRetries: -1,
		AuthHint: "the token needs the permission Workers KV Storage: Edit"}
	return &apikeys.Keys{Store: apikeys.NewStore(cfg, ns.account, ns.id), Product: t.Product, Now: t.Now, Rand: t.Rand}, nil
}

func productNames(p *plan.Plan) string {
	var known []string
	for _, pr := range p.Products {
		known = append(known, pr.Name)
	}
	return strings.Join(known, ", ")
}

// namespace is where a product's keys live and how to reach them.
type namespace struct {
	baseURL, token, account, id string
}

// deployedNamespace is the namespace of a deployed stack: Cloudflare's API
// with CLOUDFLARE_API_TOKEN, the plan's account, and the namespace id from
// --namespace-id or the stack's outputs.
func (t *Target) deployedNamespace(l *cmdutil.Loaded) (namespace, error) {
	token := t.F.Env(EnvAPIToken)
	if token == "" {
		return namespace{}, cmdutil.ConfigError(fmt.Errorf("%s is not set: managing keys on a deployed stack needs an API token with Workers KV Storage: Edit (or use --local against zerocost dev)", EnvAPIToken))
	}
	base, err := cfapi.ResolveBaseURL(t.APIURL, "--cloudflare-api-url", t.F.Env)
	if err != nil {
		return namespace{}, cmdutil.ConfigError(err)
	}
	id := t.NamespaceID
	if id == "" {
		if id, err = t.outputsNamespace(l.ProjectDir); err != nil {
			return namespace{}, err
		}
	}
	return namespace{baseURL: base, token: token, account: l.Plan.AccountID, id: id}, nil
}
