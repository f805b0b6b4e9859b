package shared

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/cost/analytics"
	"github.com/zerocost/zerocost/internal/outputs"
)

// Deployed is a deployed stack: its configuration and plan (the names of its
// Workers, buckets and queues, and the account) and its outputs (the ids).
type Deployed struct {
	*cmdutil.Loaded
	Outputs outputs.Stack
}

// LoadDeployed finds a deployed stack the one way `cost report`, `cost diff`
// and `status` share: the plan from Pulumi.<stack>.yaml, the account from
// its zerocost:accountId, the outputs from file when given, else from the
// pulumi CLI (reader; nil is the real one).
func LoadDeployed(ctx context.Context, load func(string) (*cmdutil.Loaded, error), reader outputs.Reader, stackName, file string) (*Deployed, error) {
	l, err := load(stackName)
	if err != nil {
		return nil, err
	}
	out, err := outputs.Read(ctx, file, reader, l.ProjectDir, stackName)
	if err != nil {
		return nil, cmdutil.ConfigError(err)
	}
	return &Deployed{Loaded: l, Outputs: out}, nil
}

// AnalyticsClient is the client of Cloudflare's analytics APIs for the
// account: the token from CLOUDFLARE_API_TOKEN, the base URL from apiURL,
// else CLOUDFLARE_API_BASE_URL, else Cloudflare's.
func AnalyticsClient(getenv func(string) string, apiURL, accountID string, hc *http.Client) (*analytics.Client, error) {
	token := getenv(EnvAPIToken)
	if token == "" {
		return nil, cmdutil.ConfigError(fmt.Errorf("%s is not set: a Cloudflare API token with Account Analytics: Read", EnvAPIToken))
	}
	base, err := cfapi.ResolveBaseURL(apiURL, "--api-url", getenv)
	if err != nil {
		return nil, cmdutil.ConfigError(err)
	}
	return &analytics.Client{BaseURL: base, Token: token, AccountID: accountID, MaxRetries: -1, HTTP: hc}, nil
}

// Deployment is what a command that reads a deployed stack from
// Cloudflare's API takes: `cost report` and `status` embed it in their
// Options.
type Deployment struct {
	HTTPClient func() *http.Client
	Getenv     func(string) string
	Load       func(stack string) (*cmdutil.Loaded, error)
	// OutputsReader reads the outputs without --outputs (nil: the pulumi CLI).
	OutputsReader outputs.Reader
	f             *cmdutil.Factory

	Stack   string
	Outputs string
	APIURL  string
}

// NewDeployment takes the factory's dependencies.
func NewDeployment(f *cmdutil.Factory) Deployment {
	return Deployment{HTTPClient: f.Client, Getenv: f.Env, Load: f.Load, f: f}
}

// Session is a run against a deployed stack: its signal-aware context, the
// prices, the stack's plan and outputs, what Cloudflare's analytics call
// its products, and the client of its account's analytics.
type Session struct {
	Ctx    context.Context
	Prices *cost.Prices
	*Deployed
	Products []analytics.Product
	// Dataset is the Analytics Engine dataset of the model calls.
	Dataset string
	Client  *analytics.Client
}

// Open starts a run (Start) and connects it to the deployed stack; stop
// the returned context when the run ends.
func (d *Deployment) Open(ctx context.Context, priceFile string) (*Session, context.CancelFunc, error) {
	ctx, stop, prices, err := Start(ctx, priceFile)
	if err != nil {
		return nil, stop, err
	}
	s := &Session{Ctx: ctx, Prices: prices}
	if s.Deployed, err = LoadDeployed(ctx, d.Load, d.OutputsReader, d.Stack, d.Outputs); err != nil {
		return nil, stop, err
	}
	if s.Products, s.Dataset, err = analytics.StackProducts(s.Plan, s.Outputs); err != nil {
		return nil, stop, cmdutil.ConfigError(err)
	}
	if s.Client, err = AnalyticsClient(d.Getenv, d.APIURL, s.Plan.AccountID, d.HTTPClient()); err != nil {
		return nil, stop, err
	}
	return s, stop, nil
}

// AddFlags adds --stack, --outputs and --api-url.
func (d *Deployment) AddFlags(cmd *cobra.Command) {
	d.f.AddStackFlag(cmd, &d.Stack, cmdutil.Deployed)
	cmd.Flags().StringVar(&d.Outputs, "outputs", "", "the deployed stack's outputs `FILE`, from pulumi stack output --json (default: ask the pulumi CLI)")
	cmd.Flags().StringVar(&d.APIURL, "api-url", "", "Cloudflare API base `URL` (default: $"+EnvAPIURL+", else "+cfapi.DefaultBaseURL+")")
}
