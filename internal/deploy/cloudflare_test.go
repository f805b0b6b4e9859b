package deploy

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cftest"
	"github.com/zerocost/zerocost/internal/outputs"
)

const (
	cfAccount = "0123456789abcdef0123456789abcdef"
	cfToken   = "cf-test-token"
)

func cfServer(t *testing.T) *cftest.VersionsServer {
	s := cftest.NewVersions(t, cftest.WithToken(cfToken))
	s.AddAccount(cfAccount)
	return s
}

func tctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestRollbackerReadsActiveVersions(t *testing.T) {
	s := cfServer(t)
	s.Deploy(cfAccount, "a-demo")
	v2 := s.Deploy(cfAccount, "a-demo")
	s.PutScript(cfAccount, cftest.Script{Name: "never-deployed"})
	rb := NewCloudflareRollbacker(cfAccount, cfapi.Config{Token: cfToken, BaseURL: s.BaseURL()})

	st, err := rb.Active(tctx(t), "a-demo")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Exists || st.DeploymentID == "" || len(st.Versions) != 1 || st.Versions[0] != (VersionShare{v2, 100}) {
		t.Errorf("active %+v, want %s at 100%%", st, v2)
	}
	st, err = rb.Active(tctx(t), "missing")
	if err != nil || st.Exists {
		t.Errorf("missing Worker: %+v %v", st, err)
	}
	st, err = rb.Active(tctx(t), "never-deployed")
	if err != nil || !st.Exists || len(st.Versions) != 0 {
		t.Errorf("Worker without deployments: %+v %v", st, err)
	}
}

func TestRollbackerDeploysThePreviousVersions(t *testing.T) {
	s := cfServer(t)
	v1 := s.Deploy(cfAccount, "a-demo")
	v2 := s.Deploy(cfAccount, "a-demo")
	rb := NewCloudflareRollbacker(cfAccount, cfapi.Config{Token: cfToken, BaseURL: strings.TrimSuffix(s.BaseURL(), "/")})
	if err := rb.Rollback(tctx(t), "a-demo", []VersionShare{{v1, 75}, {v2, 25}}); err != nil {
		t.Fatal(err)
	}
	d := s.Deployments(cfAccount, "a-demo")
	if len(d) != 3 {
		t.Fatalf("deployments %+v", d)
	}
	got := d[0]
	if got.Strategy != "percentage" || len(got.Versions) != 2 || got.Versions[0] != (cftest.DeploymentVersion{VersionID: v1, Percentage: 75}) ||
		got.Annotations["workers/message"] != RollbackMessage {
		t.Errorf("new deployment %+v", got)
	}
	if len(RollbackMessage) > 50 {
		t.Errorf("the rollback message has %d characters; the schema allows 50", len(RollbackMessage))
	}
	var posts []string
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost {
			posts = append(posts, r.Path)
		}
	}
	if want := []string{"/accounts/" + cfAccount + "/workers/scripts/a-demo/deployments"}; !slices.Equal(posts, want) {
		t.Errorf("POSTs %v, want %v", posts, want)
	}
	if err := rb.Rollback(tctx(t), "a-demo", nil); err == nil {
		t.Error("rolled back to nothing")
	}
}

func TestRollbackerErrors(t *testing.T) {
	s := cfServer(t)
	v1 := s.Deploy(cfAccount, "a-demo")

	// A token the API refuses: 403 with Cloudflare's error body.
	_, err := NewCloudflareRollbacker(cfAccount, cfapi.Config{Token: "wrong", BaseURL: s.BaseURL()}).Active(tctx(t), "a-demo")
	var ae *cfapi.APIError
	if !errors.As(err, &ae) || ae.Status != 403 || len(ae.Errors) != 1 || ae.Errors[0].Code != 10000 {
		t.Fatalf("wrong token: %v", err)
	}
	if want := "list the deployments of Worker a-demo: Cloudflare answered HTTP 403: Authentication error (code 10000) (" + RollbackAuthHint + ")"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}

	rb := NewCloudflareRollbacker(cfAccount, cfapi.Config{Token: cfToken, BaseURL: s.BaseURL()})
	// A 404 that is not "no such Worker" is an error, not a new Worker.
	path := "/accounts/" + cfAccount + "/workers/scripts/a-demo/deployments"
	s.AddFault(cftest.Fault{Method: "GET", Path: path, Status: 404, Errors: []cftest.Message{cftest.ErrNoRoute}, Times: 1})
	if st, err := rb.Active(tctx(t), "a-demo"); err == nil || st.Exists {
		t.Errorf("404 7003: %+v %v", st, err)
	}
	// A refused rollback.
	s.AddFault(cftest.Fault{Method: "POST", Path: path, Status: 403, Errors: []cftest.Message{cftest.ErrAuthentication}, Times: 1})
	err = rb.Rollback(tctx(t), "a-demo", []VersionShare{{v1, 100}})
	if !errors.As(err, &ae) || ae.Status != 403 || !strings.Contains(err.Error(), "deploy the previous versions of Worker a-demo") {
		t.Errorf("refused rollback: %v", err)
	}
	// A version the Worker does not have: 400.
	err = rb.Rollback(tctx(t), "a-demo", []VersionShare{{"00000000-0000-4000-8000-000000000000", 100}})
	if !errors.As(err, &ae) || ae.Status != 400 {
		t.Errorf("unknown version: %v", err)
	}
	// A transport failure.
	s.Close()
	if _, err := rb.Active(tctx(t), "a-demo"); err == nil || errors.As(err, &ae) {
		t.Errorf("closed server: %v", err)
	}
}

// The whole failure path against the fake Cloudflare API: `up` uploads new
// versions of two Workers and creates a third; verification fails; the two
// are rolled back to exactly what they served, the new one is reported; the
// data resources are never touched.
func TestRollbackAgainstTheAPI(t *testing.T) {
	s := cfServer(t)
	a1 := s.Deploy(cfAccount, "a-demo")
	b1 := s.Deploy(cfAccount, "b-demo")
	s.Upload(cfAccount, "b-demo")
	bucket := s.AddBucket(cfAccount, "a-demo-outputs")
	runner := &fakeRunner{preview: Changes{"update": 2, "create": 1}, up: Changes{"update": 2, "create": 1}, upOutputs: outputs.Stack{"a": {Script: "a-demo"}}}
	runner.onUp = func() {
		s.Deploy(cfAccount, "a-demo")
		s.Deploy(cfAccount, "b-demo")
		s.Deploy(cfAccount, "c-demo")
	}
	v := &fakeVerifier{verdicts: []verdict{{passed: false}, {passed: true}}}
	sink := &recSink{}
	res, err := Run(tctx(t), Config{Stack: "demo", Scripts: []string{"a-demo", "b-demo", "c-demo"}, Yes: true, CloudflareToken: cfToken}, Deps{
		Open:        func(context.Context) (Runner, error) { return runner, nil },
		NewVerifier: func(Credentials) (Verifier, error) { return v, nil },
		NewRollbacker: func(c Credentials) (Rollbacker, error) {
			return NewCloudflareRollbacker(cfAccount, cfapi.Config{Token: c.CloudflareToken, BaseURL: s.BaseURL()}), nil
		},
		Sink: sink,
	})
	if defaultExitCode(err) != 1 || res.Outcome != OutcomeRolledBack {
		t.Fatalf("outcome %s, err %v", res.Outcome, err)
	}
	if got := s.Active(cfAccount, "a-demo"); len(got) != 1 || got[0].VersionID != a1 {
		t.Errorf("a-demo serves %v, want %s", got, a1)
	}
	if got := s.Active(cfAccount, "b-demo"); len(got) != 1 || got[0].VersionID != b1 {
		t.Errorf("b-demo serves %v, want %s", got, b1)
	}
	if !slices.Equal(res.RolledBack(), []string{"a-demo", "b-demo"}) || !strings.Contains(err.Error(), "c-demo (new") {
		t.Errorf("rolled back %v: %v", res.RolledBack(), err)
	}
	if d := s.Deployments(cfAccount, "c-demo"); len(d) != 1 {
		t.Errorf("c-demo deployments %+v: the new Worker must be left alone", d)
	}
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet && !strings.HasSuffix(r.Path, "/deployments") {
			t.Errorf("wrote to %s %s: only deployments may change", r.Method, r.Path)
		}
		if strings.Contains(r.Path, "/storage/") || strings.Contains(r.Path, "/r2/") || strings.Contains(r.Path, "/queues") {
			t.Errorf("touched a data resource: %s %s", r.Method, r.Path)
		}
	}
	var stillThere bool
	s.Update(func(st *cftest.State) {
		for _, b := range st.Accounts[cfAccount].Buckets {
			stillThere = stillThere || b.Name == bucket.Name
		}
	})
	if !stillThere {
		t.Error("the R2 bucket is gone")
	}
}
