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
	return Load(t, ProjectDir(), "demo")
}

// Load reads Pulumi.<name>.yaml in the project folder dir and builds its
// plan; an error fails the test.
func Load(t testing.TB, dir, name string) (*stack.Config, *plan.Plan) {
	t.Helper()
	cfg, err := stack.LoadFile(dir, name)
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

// CheckKinds fails the test unless adapters has exactly one entry per kind
// of plan.Kinds: a consumer of the plan (infra/, the local runtime, verify,
// the fake API's seed) keeps its per-kind adapters in such a map, and this
// check in its tests makes a new kind without an adapter fail a test, not a user.
func CheckKinds[V any](t testing.TB, consumer string, adapters map[plan.Kind]V) {
	t.Helper()
	known := map[plan.Kind]bool{}
	for _, k := range plan.Kinds {
		known[k.Kind] = true
		if _, ok := adapters[k.Kind]; !ok {
			t.Errorf("%s has no adapter for binding kind %s (plan.Kinds): add one", consumer, k.Kind)
		}
	}
	for k := range adapters {
		if !known[k] {
			t.Errorf("%s has an adapter for %q, which is not in plan.Kinds", consumer, k)
		}
	}
}
