package verify

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/apikeys"
	"github.com/zerocost/zerocost/internal/cftest"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/outputs"
	zverify "github.com/zerocost/zerocost/internal/verify"
	"github.com/zerocost/zerocost/internal/verify/verifytest"
)

// checkOwnKeysRevoked checks the fake account's KEYS namespaces hold want
// records of verify's customers, each revoked, expiring (in its record and
// in KV) within the hour, and no key itself.
func checkOwnKeysRevoked(t *testing.T, s *cftest.Server, out outputs.Stack, want int) {
	t.Helper()
	acct := demoPlan(t).AccountID
	n := 0
	for product, op := range out {
		for name, v := range s.KVValues(acct, op.KVNamespaceIDs[contract.Keys]) {
			n++
			var rec apikeys.Record
			if err := json.Unmarshal(v.Value, &rec); err != nil {
				t.Fatalf("%s %s: %v", product, name, err)
			}
			soon := time.Now().Add(time.Hour)
			if !strings.HasPrefix(rec.Customer, "zerocost-verify") || rec.RevokedAt == nil || rec.ExpiresAt == nil || rec.ExpiresAt.After(soon) {
				t.Errorf("%s: record %s", product, v.Value)
			}
			if v.Expiration == 0 || v.Expiration < rec.ExpiresAt.Unix() || v.Expiration > soon.Unix() {
				t.Errorf("%s: KV expiration %d for a record that expires %s", product, v.Expiration, rec.ExpiresAt)
			}
			if string(v.Metadata) != string(v.Value) {
				t.Errorf("%s: metadata %s", product, v.Metadata)
			}
		}
	}
	if n != want {
		t.Errorf("%d records in the KEYS namespaces, want %d", n, want)
	}
}

// A check that fails does not keep verify from revoking its keys: the job
// check fails (a proxy keeps the job queued: verifytest.Break) after
// verify made its keys, and both are revoked all the same.
func TestDeployedRevokesAfterAFailure(t *testing.T) {
	t.Parallel()
	s, _, env, out := deployed(t)
	prop := verifytest.NewPropagation(t, demoWorkers(t), out)
	op := out["sales-engine"]
	op.URL = verifytest.Break(t, op.URL, &verifytest.Breakage{Stuck: true})
	outFile := writeOutputs(t, outputs.Stack{"sales-engine": op})
	r := runVia(t, env, prop, nil, "--outputs", outFile, "--skip-resources", "--product", "sales-engine", "--timeout", "1s", "--json")
	if r.code != cmdutil.ExitFailed {
		t.Fatalf("exit %d: %v\n%s", r.code, r.err, r.stdout)
	}
	var rep zverify.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if c := find(&rep, "sales-engine", zverify.CheckJob); c.Status != zverify.Fail {
		t.Errorf("job %+v", c)
	}
	last := rep.Checks[len(rep.Checks)-1]
	if last.Check != zverify.CheckRevokeKeys || last.Status != zverify.Pass || !strings.Contains(last.Detail, ": 4 KV writes (a create and a revoke per key)") {
		t.Errorf("last check %+v", last)
	}
	checkOwnKeysRevoked(t, s, outputs.Stack{"sales-engine": out["sales-engine"]}, 2)
}

// --wait-revocation waits until the revoked key gets 401: the Worker's
// isolate cached the key's record when verify first used it, so the 401
// comes when that entry expires, up to 60 s later (no KV propagation delay
// here: the propagation writes at once).
func TestDeployedWaitRevocation(t *testing.T) {
	t.Parallel()
	_, outFile, env, out := deployed(t)
	prop := verifytest.NewPropagation(t, demoWorkers(t), out)
	io, stdout, errOut := cmdutil.Test()
	f := &cmdutil.Factory{IO: io, ProjectDir: projectDir, Getenv: func(k string) string { return env[k] },
		HTTPClient: func() *http.Client { return &http.Client{Transport: prop, Timeout: 10 * time.Second} }, SelectedStack: cmdtest.Selected("demo")}
	// Poll once a second, as verify does by default.
	r := runFor(t, 3*time.Minute, f, stdout, errOut, func(o *Options) { o.PollInterval = time.Second },
		"--outputs", outFile, "--skip-resources", "--product", "ai-relay", "--wait-revocation")
	if r.err != nil {
		t.Fatalf("exit %d: %v\n%s\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	m := regexp.MustCompile(`revoked key +ok .*401 revoked ([0-9.]+)s after the revocation \(bound 2m0s\)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no revoked-key check:\n%s", r.stdout)
	}
	t.Logf("the revoked key got 401 %ss after its revocation", m[1])
}
