// Package plantest gives tests the repository's demo stack and its plan.
package plantest

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/stack"
)

// ProjectDir is the repository's root, which holds Pulumi.demo.yaml.
func ProjectDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Demo loads the demo stack and builds its plan.
func Demo(t testing.TB) (*stack.Config, *plan.Plan) {
	t.Helper()
	dir := ProjectDir()
	cfg, err := stack.LoadFile(dir, "demo")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, p
}

// DemoPlan is Demo's plan alone.
func DemoPlan(t testing.TB) *plan.Plan {
	t.Helper()
	_, p := Demo(t)
	return p
}
