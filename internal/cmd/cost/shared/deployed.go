package shared

import (
	"context"
	"fmt"
	"net/http"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cmdutil"
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
