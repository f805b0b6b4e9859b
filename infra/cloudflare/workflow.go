package cloudflare

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// TokenWorkflow is the provider's Workflow resource (terraform
// cloudflare_workflow): a name bound to a class of a Worker script. The
// provider creates it with a PUT after the script exists; its ID is the name.
const TokenWorkflow = "cloudflare:index/workflow:Workflow"

// Workflow runs ClassName of the Worker ScriptName, one instance per
// create() of the script's workflow binding.
type Workflow struct {
	pulumi.CustomResourceState

	AccountId    pulumi.StringOutput `pulumi:"accountId"`
	WorkflowName pulumi.StringOutput `pulumi:"workflowName"`
	ClassName    pulumi.StringOutput `pulumi:"className"`
	ScriptName   pulumi.StringOutput `pulumi:"scriptName"`
}

type WorkflowArgs struct {
	element[WorkflowArgs]

	AccountId    pulumi.StringInput `pulumi:"accountId"`
	WorkflowName pulumi.StringInput `pulumi:"workflowName"`
	ClassName    pulumi.StringInput `pulumi:"className"`
	ScriptName   pulumi.StringInput `pulumi:"scriptName"`
}

func NewWorkflow(ctx *pulumi.Context, name string, args *WorkflowArgs, opts ...pulumi.ResourceOption) (*Workflow, error) {
	return create[Workflow](ctx, TokenWorkflow, name, args, opts)
}
