package cftest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/workers"
)

const (
	vAcct  = "0123456789abcdef0123456789abcdef"
	vToken = "versions-token"
)

func vctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func vopts(s *VersionsServer) []option.RequestOption {
	return []option.RequestOption{option.WithBaseURL(s.BaseURL()), option.WithAPIToken(vToken), option.WithMaxRetries(0)}
}

func TestVersionsAnswersMatchTheSchema(t *testing.T) {
	sp := loadSpec(t)
	s := NewVersions(t, WithToken(vToken))
	s.AddAccount(vAcct)
	v1 := s.Deploy(vAcct, "a-demo")
	s.Deploy(vAcct, "a-demo")
	const listSpec = "/accounts/{account_id}/workers/scripts/{script_name}/deployments"
	base := "/accounts/" + vAcct + "/workers/scripts/a-demo"

	status, body := do(t, s.Server, "GET", base+"/deployments", vToken, "")
	if status != 200 {
		t.Fatalf("list: %d %v", status, body)
	}
	if err := sp.validate(any(body), sp.response(listSpec, "get"), "deployments list"); err != nil {
		t.Error(err)
	}
	if ds := body["result"].(map[string]any)["deployments"].([]any); len(ds) != 2 {
		t.Errorf("deployments %v", ds)
	}

	status, body = do(t, s.Server, "GET", base+"/versions", vToken, "")
	if status != 200 {
		t.Fatalf("versions: %d %v", status, body)
	}
	if err := sp.validate(any(body), sp.response("/accounts/{account_id}/workers/scripts/{script_name}/versions", "get"), "versions list"); err != nil {
		t.Error(err)
	}

	rollback := `{"strategy":"percentage","versions":[{"version_id":"` + v1 + `","percentage":100}],"annotations":{"workers/message":"rollback"}}`
	status, body = do(t, s.Server, "POST", base+"/deployments", vToken, rollback)
	if status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}
	if err := sp.validate(any(body), sp.response(listSpec, "post"), "deployment created"); err != nil {
		t.Error(err)
	}

	// Failures use the documented failure envelope.
	failure := sp.component("workers_api-response-common-failure")
	for _, c := range []struct {
		method, path, body string
		status, code       int
	}{
		{"GET", "/accounts/" + vAcct + "/workers/scripts/nope/deployments", "", 404, 10007},
		{"POST", "/accounts/" + vAcct + "/workers/scripts/nope/deployments", rollback, 404, 10007},
		{"POST", base + "/deployments", `{"strategy":"percentage","versions":[{"version_id":"not-a-version","percentage":100}]}`, 400, 10001},
		{"POST", base + "/deployments", `{"strategy":"percentage","versions":[{"version_id":"` + v1 + `","percentage":50}]}`, 400, 10001},
		{"POST", base + "/deployments", `{"strategy":"gradual","versions":[{"version_id":"` + v1 + `","percentage":100}]}`, 400, 10001},
		{"POST", base + "/deployments", `{"strategy":"percentage","versions":[]}`, 400, 10001},
		{"POST", base + "/deployments", `not json`, 400, 10001},
		{"DELETE", base + "/deployments", "", 400, 7000},
		{"GET", "/accounts/ffffffffffffffffffffffffffffffff/workers/scripts/a-demo/deployments", "", 403, 10000},
	} {
		status, body := do(t, s.Server, c.method, c.path, vToken, c.body)
		if status != c.status {
			t.Errorf("%s %s %s: status %d, want %d (%v)", c.method, c.path, c.body, status, c.status, body)
			continue
		}
		if err := sp.validate(any(body), failure, "failure"); err != nil {
			t.Errorf("%s %s: %v", c.method, c.path, err)
		}
		errs := body["errors"].([]any)
		if len(errs) != 1 || errs[0].(map[string]any)["code"] != float64(c.code) {
			t.Errorf("%s %s %s: errors %v, want code %d", c.method, c.path, c.body, errs, c.code)
		}
	}
	// The refused writes changed nothing: the last deployment is the rollback.
	if d := s.Deployments(vAcct, "a-demo"); len(d) != 3 || d[0].Versions[0].VersionID != v1 || d[0].Annotations["workers/message"] != "rollback" {
		t.Errorf("deployments after refused writes: %+v", d)
	}
}

// cloudflare-go's workers service reads deployments, pages through versions to
// the end, and rolls back with the documented body.
func TestVersionsThroughCloudflareGo(t *testing.T) {
	s := NewVersions(t, WithToken(vToken), WithMaxPerPage(2))
	s.AddAccount(vAcct)
	var ids []string
	for range 5 {
		ids = append(ids, s.Deploy(vAcct, "a-demo"))
	}
	s.Upload(vAcct, "a-demo") // uploaded, never deployed

	vsvc := workers.NewScriptVersionService(vopts(s)...)
	var vp workers.ScriptVersionListParams
	vp.AccountID.Value, vp.AccountID.Present = vAcct, true
	pager := vsvc.ListAutoPaging(vctx(t), "a-demo", vp)
	var numbers []float64
	for pager.Next() {
		numbers = append(numbers, pager.Current().Number)
		if len(numbers) > 20 {
			t.Fatal("the auto-pager does not stop")
		}
	}
	if err := pager.Err(); err != nil {
		t.Fatal(err)
	}
	if len(numbers) != 6 || numbers[0] != 6 || numbers[5] != 1 {
		t.Errorf("version numbers %v: want 6..1, newest first", numbers)
	}

	dsvc := workers.NewScriptDeploymentService(vopts(s)...)
	var lp workers.ScriptDeploymentListParams
	lp.AccountID.Value, lp.AccountID.Present = vAcct, true
	list, err := dsvc.List(vctx(t), "a-demo", lp)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Deployments) != 5 || list.Deployments[0].Versions[0].VersionID != ids[4] || list.Deployments[0].Versions[0].Percentage != 100 {
		t.Fatalf("deployments %+v", list.Deployments)
	}
	if list.Deployments[0].Strategy != workers.DeploymentStrategyPercentage || list.Deployments[0].CreatedOn.IsZero() {
		t.Errorf("deployment %+v", list.Deployments[0])
	}

	// param.Field is internal to cloudflare-go: set Value and Present.
	var np workers.ScriptDeploymentNewParams
	np.AccountID.Value, np.AccountID.Present = vAcct, true
	np.Deployment.Strategy.Value, np.Deployment.Strategy.Present = workers.DeploymentStrategyPercentage, true
	split := make([]workers.DeploymentVersionParam, 2)
	split[0].VersionID.Value, split[0].VersionID.Present = ids[1], true
	split[0].Percentage.Value, split[0].Percentage.Present = 90, true
	split[1].VersionID.Value, split[1].VersionID.Present = ids[4], true
	split[1].Percentage.Value, split[1].Percentage.Present = 10, true
	np.Deployment.Versions.Value, np.Deployment.Versions.Present = split, true
	d, err := dsvc.New(vctx(t), "a-demo", np)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Versions) != 2 || d.Versions[0].VersionID != ids[1] || d.Versions[0].Percentage != 90 {
		t.Errorf("created %+v", d)
	}
	if a := s.Active(vAcct, "a-demo"); len(a) != 2 || a[0] != (DeploymentVersion{ids[1], 90}) || a[1] != (DeploymentVersion{ids[4], 10}) {
		t.Errorf("active %+v", a)
	}

	// A Worker that does not exist: 404, code 10007.
	_, err = dsvc.List(vctx(t), "nope", lp)
	var apiErr *workers.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || len(apiErr.Errors) != 1 || apiErr.Errors[0].Code != 10007 {
		t.Errorf("missing script: %v", err)
	}
}

func TestVersionsAuthFaultsAndPassThrough(t *testing.T) {
	s := NewVersions(t, WithToken(vToken))
	s.AddAccount(vAcct)
	s.Deploy(vAcct, "a-demo")
	path := "/accounts/" + vAcct + "/workers/scripts/a-demo/deployments"

	if status, body := do(t, s.Server, "GET", path, "", ""); status != 400 || !strings.Contains(toJSON(body), "9106") {
		t.Errorf("no token: %d %v", status, body)
	}
	if status, body := do(t, s.Server, "GET", path, "wrong", ""); status != 403 || !strings.Contains(toJSON(body), "10000") {
		t.Errorf("wrong token: %d %v", status, body)
	}
	s.AddFault(Fault{Method: "POST", Path: path, Status: 403, Errors: []Message{ErrAuthentication}, Times: 1})
	if status, _ := do(t, s.Server, "GET", path, vToken, ""); status != 200 {
		t.Errorf("a POST fault failed a GET: %d", status)
	}
	if status, _ := do(t, s.Server, "POST", path, vToken, `{}`); status != 403 {
		t.Errorf("fault not applied: %d", status)
	}
	if status, body := do(t, s.Server, "POST", path, vToken, `{}`); status != 400 {
		t.Errorf("the fault outlived Times: %d %v", status, body)
	}
	// Every other path is the embedded Server's, on this server's URL.
	if status, body := do(t, s.Server, "GET", "/accounts/"+vAcct+"/workers/scripts", vToken, ""); status != 200 || !strings.Contains(toJSON(body), `"a-demo"`) {
		t.Errorf("script list: %d %v", status, body)
	}
	if status, body := do(t, s.Server, "GET", "/accounts/"+vAcct+"/workers/scripts/a-demo/nope", vToken, ""); status != 400 || !strings.Contains(toJSON(body), "7000") {
		t.Errorf("unknown sub-path: %d %v", status, body)
	}
	if u := s.Unknown(); len(u) != 1 || u[0].Path != "/accounts/"+vAcct+"/workers/scripts/a-demo/nope" {
		t.Errorf("unknown requests %v", u)
	}
	// Both servers log into one request list.
	var n int
	for _, r := range s.Requests() {
		if r.Path == path {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d requests logged for %s, want 5", n, path)
	}
}

func toJSON(v any) string {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	return b.String()
}
