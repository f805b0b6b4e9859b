package contract

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// workerSources is the hand-written TypeScript of the Workers (not the generated files).
func workerSources(t *testing.T) map[string]string {
	t.Helper()
	root := filepath.Join("..", "..", "workers-src", "src")
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".ts") || strings.HasSuffix(path, ".gen.ts") {
			return err
		}
		b, err := os.ReadFile(path)
		out[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		t.Fatalf("found %d Worker sources under %s", len(out), root)
	}
	return out
}

var (
	// new HttpError(429, "rate_limited", ...), errorResponse(500, "internal", ...), super(429, "budget_exhausted", ...)
	codeUse = regexp.MustCompile(`(?:HttpError|errorResponse|super)\(\s*(\d{3}),\s*"([a-z_]+)"`)
	// status: "queued" (a record or a view the Worker writes)
	stateUse = regexp.MustCompile(`(?:^|[^\w])status:\s*"([a-z_]+)"`)
)

// The error codes and job states are the same on both sides: every code the
// Workers answer with is in ErrorCodes with the status they send it with, and
// every code in ErrorCodes is one some Worker sends; every state a Worker
// writes is in JobStates, and every state JobStates says is written is one
// some Worker writes. A code or state added on one side only fails here (the
// TypeScript types come from contract.gen.ts, whose freshness
// TestTypeScriptIsFresh checks).
func TestHTTPContractMatchesTheWorkers(t *testing.T) {
	status := map[ErrorCode]int{}
	for _, c := range ErrorCodes {
		status[c.Code] = c.Status
	}
	written := map[JobState]bool{}
	for _, d := range JobStates {
		written[d.State] = d.Written
	}
	sentCodes, wroteStates := map[ErrorCode]bool{}, map[JobState]bool{}
	for path, src := range workerSources(t) {
		for _, m := range codeUse.FindAllStringSubmatch(src, -1) {
			code, n := ErrorCode(m[2]), m[1]
			sentCodes[code] = true
			want, ok := status[code]
			switch {
			case !ok:
				t.Errorf("%s sends error code %q, which internal/contract's ErrorCodes lacks", path, code)
			case strconv.Itoa(want) != n:
				t.Errorf("%s sends %q with HTTP %s; ErrorCodes says %d", path, code, n, want)
			}
		}
		for _, m := range stateUse.FindAllStringSubmatch(src, -1) {
			state := JobState(m[1])
			wroteStates[state] = true
			if w, ok := written[state]; !ok || !w {
				t.Errorf("%s writes job state %q, which internal/contract's JobStates lacks or marks unwritten", path, state)
			}
		}
	}
	for _, c := range ErrorCodes {
		if !sentCodes[c.Code] {
			t.Errorf("error code %q is in ErrorCodes but no Worker sends it", c.Code)
		}
	}
	for _, d := range JobStates {
		if d.Written && !wroteStates[d.State] {
			t.Errorf("job state %q is marked written but no Worker writes it", d.State)
		}
	}
}

func TestHTTPNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range JobStates {
		if seen["state "+string(d.State)] {
			t.Errorf("state %q twice", d.State)
		}
		seen["state "+string(d.State)] = true
	}
	for _, c := range ErrorCodes {
		if seen["code "+string(c.Code)] {
			t.Errorf("code %q twice", c.Code)
		}
		seen["code "+string(c.Code)] = true
	}
	for _, r := range AdminRoutes {
		if seen["route "+r.Name] || seen["path "+r.Path] {
			t.Errorf("route %s %s twice", r.Name, r.Path)
		}
		seen["route "+r.Name], seen["path "+r.Path] = true, true
		if !strings.HasPrefix(r.Path, "/admin/") {
			t.Errorf("admin route %s is not under /admin/ (which needs AUTH_TOKEN)", r.Path)
		}
	}
	if !JobDone.Terminal() || JobQueued.Terminal() || JobBudgetExhausted.Terminal() {
		t.Error("Terminal() disagrees with JobStates")
	}
}
