package verify

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/devrun"
	zverify "github.com/zerocost/zerocost/internal/verify"
	"github.com/zerocost/zerocost/internal/verify/verifytest"
)

// startDev runs `zerocost dev` for the demo stack in-process (package
// devrun), for one test alone; it stops when the test ends, if the test has
// not stopped it.
func startDev(t *testing.T, standIn devmodel.Options) *devrun.Runtime {
	t.Helper()
	return verifytest.Workers(t, devrun.Options{StandIn: standIn})
}

// verifyLocal runs `zerocost verify --local --json` against the state file.
func verifyLocal(t *testing.T, state string, args ...string) (*zverify.Report, result) {
	t.Helper()
	r := run(t, nil, func(o *Options) { o.StateFile = state }, append([]string{"--local", "--json"}, args...)...)
	if r.code == cmdutil.ExitUsage {
		return nil, r
	}
	var rep zverify.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report (%v): %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return &rep, r
}

func failedNames(rep *zverify.Report) []string {
	var out []string
	for _, c := range rep.Failed() {
		out = append(out, c.Product+": "+c.Check)
	}
	return out
}

// With the stand-in model failing every call, verify --local against
// `zerocost dev` fails and names the failing checks. Its batch check waits
// out --timeout (the failed jobs wait for their retry, queued), so this test
// comes first: it starts first among the parallel tests and runs beside them.
func TestEndToEndFailingModel(t *testing.T) {
	t.Parallel()
	rt := startDev(t, devmodel.Options{ErrorRate: 1})
	rep, r := verifyLocal(t, rt.StatePath(), "--timeout", "8s")
	if r.code != cmdutil.ExitFailed || rep.Passed {
		t.Fatalf("exit %d (%v) with a failing model", r.code, r.err)
	}
	want := map[string]bool{"sales-engine: job": true, "delivery-worker: job": true, "email-worker: batch": true, "ai-relay: cache": true}
	got := failedNames(rep)
	for _, n := range got {
		if !want[n] {
			t.Errorf("unexpected failure %s: %s", n, find(rep, strings.Split(n, ": ")[0], strings.Split(n, ": ")[1]).Detail)
		}
		delete(want, n)
	}
	for n := range want {
		t.Errorf("%s passed with a failing model", n)
	}
	// The demo's event agents run on Workflows: a job's model step retries
	// 10 s and then 20 s later, so inside --timeout 8s it still reads queued
	// (internal/verify's "job fails" waits it out and sees it failed).
	if d := find(rep, "sales-engine", zverify.CheckJob).Detail; !strings.Contains(d, " failed: ") && !strings.Contains(d, "still queued") {
		t.Errorf("job detail %q", d)
	}
	if d := find(rep, "ai-relay", zverify.CheckCache).Detail; !strings.Contains(d, "HTTP 502") {
		t.Errorf("cache detail %q", d)
	}
	for _, c := range rep.Failed() {
		t.Logf("%s/%s %dms: %s", c.Product, c.Check, c.LatencyMS, c.Detail)
	}
	if !strings.Contains(r.err.Error(), "4 of 30 checks failed") {
		t.Errorf("error %v", r.err)
	}
}

// The end-to-end test: `zerocost dev` runs the demo stack on workerd with the
// stand-in model and verify --local passes; a product that is not running
// fails; once dev stops, verify --local is a usage error.
func TestEndToEndWithZerocostDev(t *testing.T) {
	t.Parallel()
	rt := startDev(t, devmodel.Options{})
	rep, r := verifyLocal(t, rt.StatePath())
	if r.code != cmdutil.ExitOK || !rep.Passed {
		t.Fatalf("exit %d (%v): failed %v\n%s", r.code, r.err, failedNames(rep), r.stdout)
	}
	if len(rep.Checks) != 30 || rep.Target != "local" {
		t.Errorf("%d checks, target %s", len(rep.Checks), rep.Target)
	}
	if c := find(rep, "ai-relay", zverify.CheckCache); !strings.Contains(c.Detail, "MISS, then HIT") {
		t.Errorf("cache %+v", c)
	}
	if c := find(rep, "email-worker", zverify.CheckBatch); !strings.Contains(c.Detail, fmt.Sprintf("%d jobs done", zverify.BatchInputs)) {
		t.Errorf("batch %+v", c)
	}

	// A product that is not running: drop it from the state file, then
	// point it at a port nothing listens on.
	st, err := devrun.ReadStateFile(rt.StatePath())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(s *devrun.State)
		detail string
	}{
		{"missing from the state", func(s *devrun.State) {
			var keep []devrun.Product
			for _, p := range s.Products {
				if p.Name != "ai-relay" {
					keep = append(keep, p)
				}
			}
			s.Products = keep
		}, "not running in the zerocost dev of stack demo"},
		{"refusing connections", func(s *devrun.State) {
			for i := range s.Products {
				if s.Products[i].Name == "ai-relay" {
					s.Products[i].URL = verifytest.RefusedURL(t)
				}
			}
		}, "connection refused"},
	} {
		cp := *st
		cp.Products = append([]devrun.Product(nil), st.Products...)
		tc.change(&cp)
		b, _ := json.Marshal(cp)
		path := filepath.Join(t.TempDir(), "demo.json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		rep, r := verifyLocal(t, path, "--product", "ai-relay,sales-engine")
		if r.code != cmdutil.ExitFailed || rep.Passed {
			t.Errorf("%s: exit %d", tc.name, r.code)
			continue
		}
		if h := find(rep, "ai-relay", zverify.CheckHealth); h.Status != zverify.Fail || !strings.Contains(h.Detail, tc.detail) {
			t.Errorf("%s: health %+v", tc.name, h)
		}
		for _, c := range rep.Checks {
			if c.Product == "sales-engine" && c.Status != zverify.Pass {
				t.Errorf("%s: a running product failed: %+v", tc.name, c)
			}
		}
	}

	if err := rt.Stop(); err != nil {
		t.Fatal(err)
	}
	_, r = verifyLocal(t, rt.StatePath())
	if r.code != cmdutil.ExitUsage || !strings.Contains(r.err.Error(), "no zerocost dev running for stack demo: start it with `zerocost dev --stack demo`") {
		t.Errorf("after stop: exit %d: %v", r.code, r.err)
	}
}

func find(rep *zverify.Report, product, check string) zverify.Check {
	for _, c := range rep.Checks {
		if c.Product == product && c.Check == check {
			return c
		}
	}
	return zverify.Check{Detail: "no such check"}
}
