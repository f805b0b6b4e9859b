package cfapi

import (
	"context"

	"github.com/cloudflare/cloudflare-go/v7/workflows"
)

// Workflow is a Workflow of the account: the class of a Worker script it runs.
type Workflow struct {
	Name       string
	ClassName  string
	ScriptName string
}

// Workflow reads one Workflow by name (GET accounts/{a}/workflows/{name}); a
// missing one is an *APIError for which IsNotFound is true.
func (c *Client) Workflow(ctx context.Context, account, name string) (*Workflow, error) {
	const op = "get Workflow"
	var p workflows.WorkflowGetParams
	p.AccountID.Value, p.AccountID.Present = account, true
	res, err := c.workflows.Get(ctx, name, p)
	if err != nil {
		return nil, c.wrap(op, err)
	}
	return &Workflow{Name: res.Name, ClassName: res.ClassName, ScriptName: res.ScriptName}, nil
}
