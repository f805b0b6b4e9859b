package bench

import (
	"testing"

	"github.com/zerocost/zerocost/internal/reliability"
)

func root(tb testing.TB) string {
	tb.Helper()
	r, err := reliability.RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// BenchmarkRenderPlanBundle is `zerocost render --stack demo` in-process: the
// four products' wrangler configs rendered and parsed back into the plan,
// their Workers bundled with esbuild, the files written. cmd/zerocost-bench
// compares it with `wrangler deploy --dry-run` on the same four configs.
//
//	go test ./bench -run '^$' -bench RenderPlanBundle -benchmem
func BenchmarkRenderPlanBundle(b *testing.B) {
	r, out := root(b), b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		if err := RenderPlanBundle(r, "demo", out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlan is the plan alone (stack config, render, parse back, checks).
func BenchmarkPlan(b *testing.B) {
	r := root(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := loadPlan(r, "demo"); err != nil {
			b.Fatal(err)
		}
	}
}

// The demo stack's bundles stay under the size goal (the numbers are in
// docs/BENCHMARKS.md; internal/bundle checks the same goal).
func TestBundleSizes(t *testing.T) {
	sizes, err := BundleSizes(root(t), "demo")
	if err != nil {
		t.Fatal(err)
	}
	if len(sizes) != 4 {
		t.Fatalf("sizes %+v", sizes)
	}
	for _, s := range sizes {
		if s.Bytes <= 0 || s.Gzip <= 0 || s.Gzip >= s.Bytes {
			t.Errorf("%+v", s)
		}
	}
}

func TestRenderPlanBundleWritesEveryProduct(t *testing.T) {
	out := t.TempDir()
	if err := RenderPlanBundle(root(t), "demo", out); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"sales-engine", "email-worker", "ai-relay", "delivery-worker"} {
		for _, f := range []string{"wrangler.toml", "worker.js"} {
			if _, err := readFile(out, p, f); err != nil {
				t.Error(err)
			}
		}
	}
}
