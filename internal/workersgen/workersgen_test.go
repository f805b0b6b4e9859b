package workersgen

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/nodetool"
)

const root = "../.."

func checkFresh(t *testing.T, files map[string][]byte) {
	t.Helper()
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
		if err != nil {
			t.Errorf("%v: run `go generate ./internal/workersgen`", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `go generate ./internal/workersgen` (or make workers-gen) and commit it\n--- want\n%s", path, want)
		}
	}
}

// The vitest configs are the test stack rendered through the render path.
func TestConfigsAreFresh(t *testing.T) {
	p, err := Plan(root)
	if err != nil {
		t.Fatal(err)
	}
	files := Configs(p)
	if len(files) != 3 {
		t.Fatalf("%d configs", len(files))
	}
	checkFresh(t, files)
	// What the Worker tests rely on: the production bindings, and settings
	// that make them quick.
	for path, toml := range files {
		for _, want := range []string{`name = "RATE_LIMITER"`, `binding = "MODEL_USAGE"`, `binding = "OUTPUTS"`,
			`MAX_INPUT_CHARS = "200"`, `ANTHROPIC_BASE_URL = "http://127.0.0.1:9"`, "# Secrets (never written here): ANTHROPIC_API_KEY, AUTH_TOKEN, BUDGET_ALERT_WEBHOOK.",
			`binding = "SPEND"`, `STACK_BUDGET_USD = "1000"`, `BUDGET_ALERT_THRESHOLDS = "50,80,100"`, `MODEL_PRICES = "{`} {
			if !bytes.Contains(toml, []byte(want)) {
				t.Errorf("%s lacks %s", path, want)
			}
		}
	}
	ap := string(files[ConfigDir+"/async-pipeline.toml"])
	for _, want := range []string{"max_retries = 1\nretry_delay = 1\n", "max_batch_timeout = 1\n"} {
		if !strings.Contains(ap, want) {
			t.Errorf("async-pipeline.toml lacks %q", want)
		}
	}
	if ea := string(files[ConfigDir+"/event-agent.toml"]); !strings.Contains(ea, "simple = { limit = 3, period = 60 }") {
		t.Errorf("event-agent.toml: the limiter tests need 3 a minute:\n%s", ea)
	}
}

// The Env types are what `wrangler types` makes of the rendered configs.
func TestEnvTypesAreFresh(t *testing.T) {
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := nodetool.Find(abs)
	if err != nil {
		t.Skipf("wrangler types needs Node >= 22.12 and workers-src/node_modules (`make deps`; `make test` has them): %v", err)
	}
	p, err := Plan(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	types, err := EnvTypes(ctx, p, tools)
	if err != nil {
		t.Fatal(err)
	}
	checkFresh(t, map[string][]byte{EnvTypesPath: types})
	for _, want := range []string{
		"export interface EventAgentBindings {\n\tKEYS: KVNamespace;\n\tOUTPUTS: R2Bucket;\n",
		"\tJOB_QUEUE: Queue;\n",
		"export interface EdgeCacheBindings {\n\tKEYS: KVNamespace;\n\tOUTPUTS: R2Bucket;\n",
		"\tKEY_FAILURES: RateLimit;\n", "\tDOOR_STANDARD: RateLimit;\n",
		"\tRATE_LIMITER: RateLimit;\n", "\tMODEL_USAGE: AnalyticsEngineDataset;\n",
		"\tANTHROPIC_API_KEY: string;\n", "\tAUTH_TOKEN: string;\n",
	} {
		if !bytes.Contains(types, []byte(want)) {
			t.Errorf("env types lack %q", want)
		}
	}
	// The one KV namespace is each product's customer keys.
	if n := bytes.Count(types, []byte("KVNamespace")); n != 3 {
		t.Errorf("env types bind %d KV namespaces, want KEYS once per pattern", n)
	}
}

func TestPlanNeedsOneProductPerPattern(t *testing.T) {
	const head = "config:\n  zerocost:accountId: 0123456789abcdef0123456789abcdef\n  zerocost:products:\n"
	for _, c := range []struct{ products, want string }{
		{"    - {name: a, pattern: event-agent}\n    - {name: b, pattern: async-pipeline}\n", "no edge-cache product"},
		{"    - {name: a, pattern: event-agent}\n    - {name: b, pattern: event-agent}\n    - {name: c, pattern: async-pipeline}\n    - {name: d, pattern: edge-cache}\n",
			"products a and b are both event-agent"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Pulumi."+StackName+".yaml"), []byte(head+c.products), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := planIn(dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}

func TestInterfaceBody(t *testing.T) {
	gen := "/* x */\ninterface __BaseEnv_X {\n\tA: string;\n\tB: KVNamespace;\n}\ndeclare namespace Cloudflare {\n}\n"
	if got, err := interfaceBody(gen, "__BaseEnv_X"); err != nil || got != "\tA: string;\n\tB: KVNamespace;\n" {
		t.Errorf("%q %v", got, err)
	}
	if _, err := interfaceBody(gen, "__BaseEnv_Y"); err == nil || !strings.Contains(err.Error(), "output changed") {
		t.Errorf("missing interface: %v", err)
	}
	if _, err := interfaceBody("interface __BaseEnv_X {\n\tA: string;", "__BaseEnv_X"); err == nil {
		t.Error("unterminated interface accepted")
	}
}
