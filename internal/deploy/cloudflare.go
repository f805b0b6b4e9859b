package deploy

import (
	"context"
	"errors"
	"net/http"

	"github.com/cloudflare/cloudflare-go/v7/workers"

	"github.com/zerocost/zerocost/internal/cfapi"
)

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
	api     cfapi.Config
	svc     *workers.ScriptDeploymentService
}

// RollbackAuthHint ends the message of a refused token.
const RollbackAuthHint = "the Cloudflare API token needs Workers Scripts Edit on the account: docs/ci.md"

// NewCloudflareRollbacker returns a rollbacker for the account, set up as
// every zerocost client of Cloudflare's API is (cfapi.Config: api.BaseURL ""
// is Cloudflare's, api.MaxRetries < 0 is cloudflare-go's 2 retries of 429
// and 5xx answers). Its errors are *cfapi.APIError, whose message says which
// permission a refused token lacks.
func NewCloudflareRollbacker(account string, api cfapi.Config) *CloudflareRollbacker {
	api.AuthHint = RollbackAuthHint
	return &CloudflareRollbacker{account: account, api: api, svc: workers.NewScriptDeploymentService(api.Options()...)}
}

// Active returns the versions of the Worker's newest deployment (the one
// serving traffic); a Worker that does not exist is Exists false.
func (c *CloudflareRollbacker) Active(ctx context.Context, script string) (ScriptState, error) {
	var p workers.ScriptDeploymentListParams
	p.AccountID.Value, p.AccountID.Present = c.account, true
	res, err := c.svc.List(ctx, script, p)
	if err != nil {
		err = c.api.Wrap("list the deployments of Worker "+script, err)
		if isScriptNotFound(err) {
			return ScriptState{}, nil
		}
		return ScriptState{}, err
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
		return c.api.Wrap("deploy the previous versions of Worker "+script, err)
	}
	return nil
}

// isScriptNotFound: 404 with code 10007 (or no code at all).
func isScriptNotFound(err error) bool {
	var ae *cfapi.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		return false
	}
	return len(ae.Errors) == 0 || ae.HasCode(CodeScriptNotFound)
}

var _ Rollbacker = (*CloudflareRollbacker)(nil)
