package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/workers"
)

// DefaultCloudflareAPI is Cloudflare's v4 API.
const DefaultCloudflareAPI = "https://api.cloudflare.com/client/v4/"

// CodeScriptNotFound is Cloudflare's error code for a Worker that does not exist.
const CodeScriptNotFound = 10007

// RollbackMessage annotates the deployments a rollback creates (the API
// keeps up to 50 characters in the schema zerocost was tested against).
const RollbackMessage = "zerocost deploy: rollback, verification failed"

// CloudflareRollbacker reads and sets Worker deployments through
// cloudflare-go's workers service (the service package only, not the root
// package):
//
//	GET  /accounts/{account}/workers/scripts/{script}/deployments
//	POST /accounts/{account}/workers/scripts/{script}/deployments
//	     {"strategy": "percentage", "versions": [{"version_id", "percentage"}], ...}
//
// The token needs Workers Scripts Read to read and Workers Scripts Edit to
// roll back.
type CloudflareRollbacker struct {
	account string
	svc     *workers.ScriptDeploymentService
}

// NewCloudflareRollbacker returns a rollbacker for the account. baseURL ""
// is DefaultCloudflareAPI; maxRetries < 0 keeps cloudflare-go's default
// (2 retries of 429 and 5xx answers).
func NewCloudflareRollbacker(account, token, baseURL string, hc *http.Client, maxRetries int) *CloudflareRollbacker {
	if baseURL == "" {
		baseURL = DefaultCloudflareAPI
	}
	if !strings.HasSuffix(baseURL, "/") {
		baseURL += "/"
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	opts := []option.RequestOption{option.WithBaseURL(baseURL), option.WithAPIToken(token), option.WithHTTPClient(hc)}
	if maxRetries >= 0 {
		opts = append(opts, option.WithMaxRetries(maxRetries))
	}
	return &CloudflareRollbacker{account: account, svc: workers.NewScriptDeploymentService(opts...)}
}

// Active returns the versions of the Worker's newest deployment (the one
// serving traffic); a Worker that does not exist is Exists false.
func (c *CloudflareRollbacker) Active(ctx context.Context, script string) (ScriptState, error) {
	var p workers.ScriptDeploymentListParams
	p.AccountID.Value, p.AccountID.Present = c.account, true
	res, err := c.svc.List(ctx, script, p)
	if err != nil {
		if isScriptNotFound(err) {
			return ScriptState{}, nil
		}
		return ScriptState{}, apiError("list the deployments of Worker "+script, err)
	}
	st := ScriptState{Exists: true}
	if len(res.Deployments) > 0 {
		d := res.Deployments[0]
		st.DeploymentID = d.ID
		for _, v := range d.Versions {
			st.Versions = append(st.Versions, VersionShare{VersionID: v.VersionID, Percentage: v.Percentage})
		}
	}
	return st, nil
}

// Rollback creates a deployment of the given versions.
func (c *CloudflareRollbacker) Rollback(ctx context.Context, script string, to []VersionShare) error {
	if len(to) == 0 {
		return errors.New("no versions to roll back to")
	}
	// param.Field is internal to cloudflare-go: set Value and Present.
	var p workers.ScriptDeploymentNewParams
	p.AccountID.Value, p.AccountID.Present = c.account, true
	p.Deployment.Strategy.Value, p.Deployment.Strategy.Present = workers.DeploymentStrategyPercentage, true
	vs := make([]workers.DeploymentVersionParam, len(to))
	for i, v := range to {
		vs[i].VersionID.Value, vs[i].VersionID.Present = v.VersionID, true
		vs[i].Percentage.Value, vs[i].Percentage.Present = v.Percentage, true
	}
	p.Deployment.Versions.Value, p.Deployment.Versions.Present = vs, true
	p.Deployment.Annotations.Value.WorkersMessage.Value = RollbackMessage
	p.Deployment.Annotations.Value.WorkersMessage.Present = true
	p.Deployment.Annotations.Present = true
	if _, err := c.svc.New(ctx, script, p); err != nil {
		return apiError("deploy the previous versions of Worker "+script, err)
	}
	return nil
}

// APIError is a failed Cloudflare API call.
type APIError struct {
	Op     string
	Status int
	Codes  []int64
	Errors []string
}

func (e *APIError) Error() string {
	var parts []string
	for i, m := range e.Errors {
		parts = append(parts, fmt.Sprintf("%s (code %d)", m, e.Codes[i]))
	}
	msg := strings.Join(parts, "; ")
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	hint := ""
	if e.Status == http.StatusForbidden || e.Status == http.StatusUnauthorized {
		hint = " (the Cloudflare API token needs Workers Scripts Edit on the account: docs/ci.md)"
	}
	return fmt.Sprintf("%s: HTTP %d: %s%s", e.Op, e.Status, msg, hint)
}

func apiError(op string, err error) error {
	var ce *workers.Error
	if !errors.As(err, &ce) {
		return fmt.Errorf("%s: %w", op, err)
	}
	ae := &APIError{Op: op, Status: ce.StatusCode}
	for _, m := range ce.Errors {
		ae.Codes = append(ae.Codes, m.Code)
		ae.Errors = append(ae.Errors, m.Message)
	}
	return ae
}

// isScriptNotFound: 404 with code 10007 (or no code at all).
func isScriptNotFound(err error) bool {
	var ce *workers.Error
	if !errors.As(err, &ce) || ce.StatusCode != http.StatusNotFound {
		return false
	}
	if len(ce.Errors) == 0 {
		return true
	}
	for _, m := range ce.Errors {
		if m.Code == CodeScriptNotFound {
			return true
		}
	}
	return false
}

var _ Rollbacker = (*CloudflareRollbacker)(nil)
