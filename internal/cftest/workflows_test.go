package cftest

import (
	"context"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7/workflows"
)

// The provider's calls for cloudflare_workflow: PUT creates or replaces
// (echoing name, the provider's id), GET reads back without schedules unless
// they were sent, DELETE answers {status, success} and a second one is 404.
func TestWorkflowCalls(t *testing.T) {
	s := seeded(t)
	path := "/accounts/" + acct + "/workflows/a-demo-jobs"
	code, body := do(t, s, "PUT", path, token, `{"class_name":"JobWorkflow","script_name":"a-demo"}`)
	res, _ := body["result"].(map[string]any)
	if code != 200 || res["name"] != "a-demo-jobs" || res["class_name"] != "JobWorkflow" || res["id"] == "" {
		t.Fatalf("PUT: %d %v", code, body)
	}
	id := res["id"]
	if _, has := res["schedules"]; has {
		t.Errorf("PUT answered schedules it was not sent: %v", res)
	}
	// A replace keeps the id; the SDK reads what the provider's GET reads.
	if code, body := do(t, s, "PUT", path, token, `{"class_name":"Other","limits":null,"schedules":[{"cron":"*/5 * * * *"}],"script_name":"a-demo"}`); code != 200 || body["result"].(map[string]any)["id"] != id {
		t.Fatalf("PUT again: %d %v", code, body)
	}
	var p workflows.WorkflowGetParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	got, err := workflows.NewWorkflowService(sdkOpts(s)...).Get(context.Background(), "a-demo-jobs", p)
	if err != nil || got.ClassName != "Other" || got.ScriptName != "a-demo" || len(got.Schedules) != 1 || got.Schedules[0].Cron != "*/5 * * * *" {
		t.Fatalf("GET: %v %+v", err, got)
	}
	if code, body := do(t, s, "DELETE", path, token, ""); code != 200 || body["result"].(map[string]any)["status"] != "ok" {
		t.Fatalf("DELETE: %d %v", code, body)
	}
	if code, _ := do(t, s, "DELETE", path, token, ""); code != 404 {
		t.Errorf("DELETE of a deleted Workflow: %d, want 404", code)
	}
	if code, _ := do(t, s, "PUT", path, token, `{"class_name":"JobWorkflow"}`); code != 400 {
		t.Errorf("PUT without script_name: %d, want 400", code)
	}
}
