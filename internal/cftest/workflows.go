package cftest

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
)

// Workflow is a Workflow of an account: the class of a Worker it runs. The
// fake keeps no instances (zerocost's Workers create them, not the API).
type Workflow struct {
	ID         string
	Name       string
	ClassName  string
	ScriptName string
	// Steps is limits.steps when the last PUT set it, else 0.
	Steps float64
	// Schedules are the crons of the last PUT; nil when it sent none (the
	// provider plans an update if a GET answers [] for an unset list).
	Schedules []string
	VersionID string
}

// workflowBody is PUT accounts/{a}/workflows/{name}'s body, as the provider
// sends it (keys sorted; limits and schedules only when set, or null).
type workflowBody struct {
	ClassName  string `json:"class_name"`
	ScriptName string `json:"script_name"`
	Limits     *struct {
		Steps float64 `json:"steps"`
	} `json:"limits"`
	Schedules []struct {
		Cron string `json:"cron"`
	} `json:"schedules"`
}

// workflowName: at most 64 letters, digits, dashes and underscores, not
// starting with a dash (workers-sdk's workflows-shared validators).
var workflowName = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_-]{0,63}$`)

// workflowPut creates or replaces a Workflow (the provider has no POST).
func workflowPut(c *call) reply {
	name := c.p["workflow"]
	if !workflowName.MatchString(name) {
		return invalidBody(fmt.Sprintf("workflow name %q is not valid", name))
	}
	var body workflowBody
	if !decode(c.r, &body) {
		return fail(http.StatusBadRequest, ErrBadRequest)
	}
	if body.ClassName == "" || body.ScriptName == "" {
		return invalidBody("class_name and script_name are required")
	}
	wf := Workflow{Name: name, ClassName: body.ClassName, ScriptName: body.ScriptName, VersionID: c.s.uuid()}
	if body.Limits != nil {
		wf.Steps = body.Limits.Steps
	}
	if body.Schedules != nil {
		wf.Schedules = []string{}
		for _, s := range body.Schedules {
			wf.Schedules = append(wf.Schedules, s.Cron)
		}
	}
	i := slices.IndexFunc(c.a.Workflows, func(w Workflow) bool { return w.Name == name })
	if i < 0 {
		wf.ID = c.s.uuid()
		c.a.Workflows = append(c.a.Workflows, wf)
	} else {
		wf.ID = c.a.Workflows[i].ID
		c.a.Workflows[i] = wf
	}
	return ok(workflowJSON(wf))
}

// workflowJSON is a Workflow as PUT and GET answer it: name (the provider's
// id) and every computed field; schedules only when they were sent.
func workflowJSON(wf Workflow) map[string]any {
	m := map[string]any{
		"id": wf.ID, "name": wf.Name, "class_name": wf.ClassName, "script_name": wf.ScriptName,
		"created_on": Timestamp, "modified_on": Timestamp, "triggered_on": nil,
		"is_deleted": 0, "terminator_running": 0, "version_id": wf.VersionID,
		"instances": map[string]int{"complete": 0, "errored": 0, "paused": 0, "queued": 0, "rollingBack": 0,
			"running": 0, "terminated": 0, "waiting": 0, "waitingForPause": 0},
	}
	if wf.Schedules != nil {
		crons := make([]map[string]string, len(wf.Schedules))
		for i, s := range wf.Schedules {
			crons[i] = map[string]string{"cron": s}
		}
		m["schedules"] = crons
	}
	return m
}

var workflowList = collection[Workflow]{
	list:  func(c *call) *[]Workflow { return &c.a.Workflows },
	named: func(c *call, wf Workflow) bool { return wf.Name == c.p["workflow"] },
	missing: func(c *call) reply {
		return notFound(10200, fmt.Sprintf("Workflow %s not found", c.p["workflow"]))
	},
}

var (
	workflowGet = workflowList.get(func(wf Workflow) any { return workflowJSON(wf) })
	// workflowDelete answers what the SDK decodes ({status, success}); a
	// missing Workflow is a 404, which the provider reports as an error.
	workflowDelete = workflowList.remove(func(Workflow) any { return map[string]any{"status": "ok", "success": true} })
)

// AddWorkflow creates a Workflow running class of script, as the provider's
// PUT would.
func (s *Server) AddWorkflow(account, name, class, script string) Workflow {
	return addTo(s, account, func(a *Account) *[]Workflow { return &a.Workflows }, func() Workflow {
		return Workflow{ID: s.uuid(), Name: name, ClassName: class, ScriptName: script, VersionID: s.uuid()}
	})
}
