package bundle

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/plan/plantest"
)

const projectDir = "../.."

func demoPlan(t *testing.T) *plan.Plan { return plantest.DemoPlan(t) }

// Every demo Worker bundles into one ES module under the 25 KB goal.
func TestDemoBundles(t *testing.T) {
	p := demoPlan(t)
	for i := range p.Products {
		pr := &p.Products[i]
		res, err := Product(pr, projectDir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		code := string(res.Code)
		t.Logf("%s (%s): %d bytes", pr.Name, pr.Pattern, len(code))
		if len(code) > SizeGoal {
			t.Errorf("%s: bundle is %d bytes, over the %d-byte goal", pr.Name, len(code), SizeGoal)
		}
		if !strings.Contains(code, "export{") && !strings.Contains(code, "export {") {
			t.Errorf("%s: bundle has no ES module export", pr.Name)
		}
		if strings.Contains(code, "import ") && strings.Contains(code, "zerocost:") {
			t.Errorf("%s: bundle still imports zerocost: sources", pr.Name)
		}
	}
	// The hooks module is bundled into sales-engine only.
	se, err := Product(p.Product("sales-engine"), projectDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dw, err := Product(p.Product("delivery-worker"), projectDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(se.Code), "Lead message:") || strings.Contains(string(dw.Code), "Lead message:") {
		t.Error("the sales-engine hooks are not (only) in the sales-engine bundle")
	}
}

func TestEntry(t *testing.T) {
	pr := &plan.Product{Name: "x", Pattern: "edge-cache"}
	e, err := Entry(pr, "/proj")
	if err != nil || !strings.Contains(e, `"zerocost:patterns/edge-cache"`) || !strings.Contains(e, "createWorker({})") {
		t.Fatalf("entry %q, %v", e, err)
	}
	pr.Hooks = "hooks/x.ts"
	e, _ = Entry(pr, "/proj")
	if !strings.Contains(e, `import * as hooks from "/proj/hooks/x.ts"`) {
		t.Fatalf("entry %q", e)
	}
	pr.Hooks = "../x.ts"
	if _, err := Entry(pr, "/proj"); err == nil {
		t.Fatal("hooks outside the project accepted")
	}
}

// Relative imports among the sources resolve with TypeScript's rules, and a
// broken source is a clear error that names the file.
func TestEmbeddedResolution(t *testing.T) {
	src := fstest.MapFS{
		"patterns/edge-cache.ts": {Data: []byte(`import { hello } from "../lib/hello"; export function createWorker(h: object) { return { fetch: () => new Response(hello()) }; }`)},
		"lib/hello.ts":           {Data: []byte(`export const hello = (): string => "hi from lib";`)},
	}
	pr := &plan.Product{Name: "x", Pattern: "edge-cache"}
	res, err := Product(pr, projectDir, Options{Sources: src})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.Code), "hi from lib") {
		t.Errorf("lib not bundled: %s", res.Code)
	}
	src["lib/hello.ts"] = &fstest.MapFile{Data: []byte(`export const hello = ( => ;`)}
	if _, err := Product(pr, projectDir, Options{Sources: src}); err == nil || !strings.Contains(err.Error(), "lib/hello.ts") {
		t.Errorf("got %v", err)
	}
}
