// Package golden compares test output with golden files under testdata/golden,
// and rewrites them when the test binary runs with -update (infracost style):
//
//	go test ./internal/plan -update
//
// A mismatch prints a unified diff from the golden file to the output.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// Updating reports whether this run rewrites golden files.
func Updating() bool { return *update }

// Check compares got with testdata/golden/<name> in the test's package.
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the package's tests with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs; if the change is intended, rerun the package's tests with -update\n%s",
			path, Diff(path, "got", string(want), string(got)))
	}
}
