package product

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/stack"
)

const repo = "../../.."

// project copies the repository's Pulumi.yaml and Pulumi.demo.yaml.
func project(t *testing.T) string { return cmdtest.Project(t, repo, "Pulumi.yaml", "Pulumi.demo.yaml") }

func run(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	ios, _, errOut := cmdutil.Test()
	cmd := NewCmd(&cmdutil.Factory{IO: ios, ProjectDir: dir}, nil)
	cmd.SetArgs(append([]string{"add"}, args...))
	cmd.SetOut(ios.Out)
	cmd.SetErr(errOut)
	err := cmd.Execute()
	return errOut.String(), err
}

func TestAddKeepsTheStack(t *testing.T) {
	dir := project(t)
	before, err := stack.LoadFile(dir, "demo")
	if err != nil {
		t.Fatal(err)
	}
	// No --stack: the project's only stack file, said on stderr.
	errOut, err := run(t, dir, "--pattern", "async-pipeline", "--product", "digest")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "using stack demo (the only Pulumi.<stack>.yaml") || !strings.Contains(errOut, "added product digest (async-pipeline)") {
		t.Errorf("stderr %q", errOut)
	}
	after, err := stack.LoadFile(dir, "demo")
	if err != nil {
		t.Fatalf("the stack no longer loads: %v", err)
	}
	if len(after.Products) != len(before.Products)+1 {
		t.Fatalf("%d products, want %d", len(after.Products), len(before.Products)+1)
	}
	for i, p := range before.Products {
		if after.Products[i].Name != p.Name || !reflect.DeepEqual(after.Products[i], p) || after.Products[i].SystemPromptFile != p.SystemPromptFile {
			t.Errorf("product %d: %+v, was %+v", i, after.Products[i], p)
		}
	}
	if got := after.Products[len(before.Products)]; got.Name != "digest" || got.Pattern != stack.AsyncPipeline {
		t.Errorf("new product %+v", got)
	}
	if after.MonthlyBudgetUSD != before.MonthlyBudgetUSD || after.AccountID != before.AccountID || after.WorkersDevSubdomain != before.WorkersDevSubdomain {
		t.Errorf("stack values changed: %+v", after)
	}
	text, _ := os.ReadFile(stack.FilePath(dir, "demo"))
	for _, comment := range []string{"# The demo stack", "# The spend guard", "#   batchSize:                           # by default the full packs one invocation runs"} {
		if !strings.Contains(string(text), comment) {
			t.Errorf("lost or missing comment %q:\n%s", comment, text)
		}
	}
}

func TestAddRefuses(t *testing.T) {
	dir := project(t)
	flow := filepath.Join(dir, "Pulumi.flow.yaml")
	if err := os.WriteFile(flow, []byte("config:\n  zerocost:accountId: \"0123456789abcdef0123456789abcdef\"\n  zerocost:products: [{name: a, pattern: edge-cache}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, dir, "--stack", "flow", "--pattern", "event-agent", "--product", "b"); err != nil {
		t.Fatalf("flow-style list: %v", err)
	}
	if cfg, err := stack.LoadFile(dir, "flow"); err != nil || len(cfg.Products) != 2 {
		t.Fatalf("flow-style list: %+v, %v", cfg, err)
	}
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"duplicate":       {[]string{"--stack", "demo", "--pattern", "edge-cache", "--product", "ai-relay"}, "already has a product named ai-relay"},
		"no stack file":   {[]string{"--stack", "nope", "--pattern", "edge-cache", "--product", "x"}, "Pulumi.nope.yaml does not exist: start the stack with `zerocost init --stack nope"},
		"two stacks":      {[]string{"--pattern", "edge-cache", "--product", "x"}, "stacks found: demo, flow"},
		"bad pattern":     {[]string{"--stack", "demo", "--pattern", "x", "--product", "x"}, `--pattern "x" is not a pattern`},
		"missing product": {[]string{"--stack", "demo", "--pattern", "edge-cache"}, "--product is required"},
	} {
		before, _ := os.ReadFile(stack.FilePath(dir, "demo"))
		_, err := run(t, dir, c.args...)
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: exit %d: %v; want %q", name, cmdutil.ExitCode(err), err, c.want)
		}
		if after, _ := os.ReadFile(stack.FilePath(dir, "demo")); string(after) != string(before) {
			t.Errorf("%s: changed the file", name)
		}
	}
}
