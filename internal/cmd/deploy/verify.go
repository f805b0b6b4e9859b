package deploy

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/deploy"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan"
	zverify "github.com/zerocost/zerocost/internal/verify"
)

// verifyFunc runs the checks (zverify.Run; tests replace it).
type verifyFunc func(ctx context.Context, o zverify.Options) (*zverify.Report, error)

// verifier is deploy.Verifier over package verify: the route and resource
// checks of `zerocost verify`, against the outputs `up` returned. Each check
// is reported as a check event; the JUnit report, when asked for, is written
// after each run (the second, after a rollback, to FILE-after-rollback.EXT).
type verifier struct {
	plan   *plan.Plan
	creds  deploy.Credentials
	hc     *http.Client
	apiURL string
	junit  string
	sink   deploy.Sink
	run    verifyFunc
	// skipRoutes leaves out the route checks (--skip-routes).
	skipRoutes bool

	runs int
}

// report is a verify.Report that summarizes itself for the text output.
type report struct {
	*zverify.Report
}

// Summary counts the checks and names the failed ones.
func (r report) Summary() string {
	failed := r.Failed()
	if len(failed) == 0 {
		return fmt.Sprintf("%d checks passed", len(r.Checks))
	}
	names := make([]string, len(failed))
	for i, c := range failed {
		names[i] = c.Product + " " + c.Check
	}
	return fmt.Sprintf("%d of %d checks failed: %s", len(failed), len(r.Checks), strings.Join(names, ", "))
}

func (v *verifier) Verify(ctx context.Context, out outputs.Stack) (bool, any, error) {
	v.runs++
	phase := deploy.PhaseVerify
	if v.runs > 1 {
		phase = deploy.PhaseReverify
	}
	o := zverify.Options{
		Plan:       v.plan,
		Target:     zverify.DeployedTarget(v.plan, out),
		HTTPClient: v.hc,
		AuthToken:  v.creds.AuthToken,
		Resources:  cfapi.New(cfapi.Config{Token: v.creds.CloudflareToken, BaseURL: v.apiURL, HTTPClient: v.hc, MaxRetries: -1}),
		Outputs:    out,
		SkipRoutes: v.skipRoutes,
		Progress: func(done, total int, c zverify.Check) {
			e := deploy.Event{Type: deploy.EventCheck, Phase: phase, Product: c.Product, Check: c.Check, Status: deploy.StatusPass, Done: done, Total: total}
			if c.Status != zverify.Pass {
				e.Status, e.Message = deploy.StatusFail, c.Detail
			}
			v.sink.Emit(e)
		},
	}
	if !v.skipRoutes && v.creds.CloudflareToken != "" {
		// Keyed products: verify makes short-lived keys of its own and
		// revokes them (docs/verify.md, "Customer keys"), with the token
		// that deployed the KV namespaces.
		cfg := cfapi.Config{Token: v.creds.CloudflareToken, BaseURL: v.apiURL, HTTPClient: v.hc, MaxRetries: -1,
			AuthHint: "verify writes its own short-lived keys: the token needs the permission Workers KV Storage: Edit"}
		o.Target.PutKey = zverify.KVKeyWriter(cfg, v.plan.AccountID, zverify.KeysNamespaces(out))
	}
	run := v.run
	if run == nil {
		run = zverify.Run
	}
	rep, err := run(ctx, o)
	if err != nil {
		return false, nil, err
	}
	if v.junit != "" {
		// A report that cannot be written must not decide a rollback.
		if err := writeJUnit(junitPath(v.junit, v.runs), rep); err != nil {
			v.sink.Emit(deploy.Event{Type: deploy.EventDiagnostic, Phase: phase, Severity: "warning", Message: "--junit: " + err.Error()})
		}
	}
	return rep.Passed, report{rep}, nil
}

// junitPath is FILE for the first run and FILE-after-rollback.EXT after.
func junitPath(path string, run int) string {
	if run <= 1 {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-after-rollback" + ext
}

func writeJUnit(path string, rep *zverify.Report) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteJUnit(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
