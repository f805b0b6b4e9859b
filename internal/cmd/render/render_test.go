package render

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/nodetool"
)

const projectDir = "../../.."

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	io, out, _ := cmdutil.Test()
	f := &cmdutil.Factory{IO: io, ProjectDir: projectDir}
	err := cmdtest.Execute(NewCmd(f, nil), io, args...)
	return out.String(), err
}

func TestFlags(t *testing.T) {
	got, err := cmdtest.Parse(NewCmd, "--out", "dist")
	if err != nil {
		t.Fatal(err)
	}
	if got.Stack != "demo" || got.Out != "dist" {
		t.Errorf("options %+v", got)
	}
	_, err = cmdtest.Parse(NewCmd, "--stack", "prod")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "--out") {
		t.Errorf("missing --out: %v", err)
	}
}

func TestRenderDemo(t *testing.T) {
	out := t.TempDir()
	stdout, err := run(t, "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"sales-engine", "email-worker", "ai-relay", "delivery-worker"} {
		for _, f := range []string{"wrangler.toml", "worker.js"} {
			st, err := os.Stat(filepath.Join(out, p, f))
			if err != nil || st.Size() == 0 {
				t.Errorf("%s/%s: %v", p, f, err)
			}
		}
		if !regexp.MustCompile(p + `\s+\S+\s+\d+\.\d KB`).MatchString(stdout) {
			t.Errorf("no size printed for %s:\n%s", p, stdout)
		}
	}
}

func TestUnknownStack(t *testing.T) {
	_, err := run(t, "--out", t.TempDir(), "--stack", "nope")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "Pulumi.nope.yaml") {
		t.Errorf("got %v", err)
	}
}

// The real wrangler accepts every rendered config: `wrangler deploy --dry-run`
// must exit 0 and print no error and no warning.
func TestWranglerAcceptsRenderedConfigs(t *testing.T) {
	abs, _ := filepath.Abs(projectDir)
	tools, err := nodetool.Find(abs)
	if err != nil {
		t.Fatalf("this test runs the real wrangler: %v", err)
	}
	out := t.TempDir()
	if _, err := run(t, "--out", out); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 4 {
		t.Fatalf("rendered %d products", len(entries))
	}
	home := t.TempDir() // keep wrangler's config and logs out of the user's home
	for _, e := range entries {
		e := e
		t.Run(e.Name(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			dir := filepath.Join(out, e.Name())
			cmd := tools.Wrangler(ctx, dir, "deploy", "--dry-run", "--outdir", filepath.Join(dir, "dist"))
			cmd.Env = append(cmd.Env, "XDG_CONFIG_HOME="+home, "HOME="+home, "CI=true", "NO_COLOR=1")
			b, err := cmd.CombinedOutput()
			text := string(b)
			if err != nil {
				t.Fatalf("wrangler failed: %v\n%s", err, text)
			}
			if !strings.Contains(text, "--dry-run: exiting now.") {
				t.Fatalf("wrangler did not reach the end of its dry run:\n%s", text)
			}
			for _, bad := range []string{"[WARNING]", "[ERROR]", "▲", "✘"} {
				if strings.Contains(text, bad) {
					t.Errorf("wrangler printed %q:\n%s", bad, text)
				}
			}
			// Every demo product has customer keys: its KEYS namespace.
			for _, want := range []string{"Rate Limit", "R2 Bucket", "KV Namespace", "env.KEYS"} {
				if !strings.Contains(text, want) {
					t.Errorf("wrangler does not list %s:\n%s", want, text)
				}
			}
		})
	}
}
