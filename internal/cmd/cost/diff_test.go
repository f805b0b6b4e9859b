package cost

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
)

// gitRepo makes a repository of the demo stack's files with two commits:
// the demo as it is, then ai-relay switched to Sonnet 4.5 (and, when
// addProduct, a product added to the stack and to the profile).
func gitRepo(t *testing.T, addProduct bool) string {
	t.Helper()
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	copyFile := func(rel string) string {
		data, err := os.ReadFile(filepath.Join(projectDir, rel))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	git("init", "-q", "-b", "main")
	copyFile("Pulumi.yaml")
	stackFile := copyFile("Pulumi.demo.yaml")
	profile := copyFile("examples/usage/demo.toml")
	git("add", "-A")
	git("commit", "-q", "-m", "base")
	stackFile = strings.Replace(stackFile, "    - name: ai-relay\n      pattern: edge-cache\n", "    - name: ai-relay\n      pattern: edge-cache\n      model: claude-sonnet-4-5\n", 1)
	if addProduct {
		stackFile += "    - name: faq-bot\n      pattern: edge-cache\n      systemPrompt: You answer questions about our shop.\n"
		profile += "\n[[product]]\nname = \"faq-bot\"\nrequests = 90000\ninput_tokens = 300\noutput_tokens = 120\ncache_hit_rate = 0.8\nresult_bytes = 800\n"
	}
	for rel, doc := range map[string]string{"Pulumi.demo.yaml": stackFile, "examples/usage/demo.toml": profile} {
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("add", "-A")
	git("commit", "-q", "-m", "head")
	return dir
}

// workflowDiffArgs are the arguments the pull-request workflow gives `cost
// diff`, its variables replaced: the test runs what CI runs.
func workflowDiffArgs(t *testing.T, vars map[string]string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(projectDir, ".github", "workflows", "pull-request.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		_, call, ok := strings.Cut(line, "zerocost cost diff ")
		if !ok || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		call, _, _ = strings.Cut(call, ">")
		args := []string{"diff"}
		for _, f := range strings.Fields(call) {
			f = strings.Trim(f, `"`)
			if v, ok := vars[f]; ok {
				f = v
			}
			if strings.HasPrefix(f, "$") {
				t.Fatalf("the workflow's cost diff uses %s, which this test does not set", f)
			}
			args = append(args, f)
		}
		return args
	}
	t.Fatal("pull-request.yml runs no `zerocost cost diff`")
	return nil
}

func runIn(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	io, out, _ := cmdutil.Test()
	err := cmdtest.Execute(NewCmd(&cmdutil.Factory{IO: io, ProjectDir: dir}), io, args...)
	return out.String(), err
}

// The workflow's diff on a two-commit repository: the head commit switches
// ai-relay to Sonnet; the Markdown says what that adds a month.
func TestWorkflowDiffOnTwoCommits(t *testing.T) {
	dir := gitRepo(t, false)
	args := workflowDiffArgs(t, map[string]string{"$ZEROCOST_STACK": "demo", "$BASE_SHA": "HEAD~1"})
	out, err := runIn(t, dir, args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	for _, want := range []string{
		"### Cost diff of stack demo: +$32.83 a month, git HEAD~1 to working tree",
		"**This change costs $32.83 more a month: $24.12 to $56.95 on Workers Free.**",
		"Priced the usage profile examples/usage/demo.toml on Workers Free",
		"| ai-relay | model claude-haiku-4-5 → claude-sonnet-4-5 | $16.42 → $49.25 (+$32.83) |",
		"| stack (all products) | $60.00 | $24.12 → $56.95 (+$32.83) | 95% |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	// No change: the head against itself.
	out, err = runIn(t, dir, "diff", "--stack", "demo", "--base", "HEAD")
	if err != nil || !strings.Contains(out, "This change costs nothing more or less a month: $56.95") {
		t.Errorf("HEAD: %v\n%s", err, out)
	}
}

func TestDiffAddedProductAndBaseFiles(t *testing.T) {
	dir := gitRepo(t, true)
	out, err := runIn(t, dir, "diff", "--stack", "demo", "--base", "main~1", "--format", "json")
	if err != nil || !strings.Contains(out, `"name": "faq-bot",`+"\n"+`      "status": "added"`) {
		t.Errorf("added product: %v\n%s", err, out)
	}
	// A folder as the base: the head's files are the base's, so nothing changes.
	out, err = runIn(t, dir, "diff", "--stack", "demo", "--base", dir)
	if err != nil || !strings.Contains(out, "files in "+dir+" to working tree") || !strings.Contains(out, "costs nothing more or less") {
		t.Errorf("folder base: %v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"diff", "--stack", "demo", "--base", "nope"}, "git nope: git show nope:./Pulumi.demo.yaml"},
		{[]string{"diff", "--stack", "demo"}, "--base is required"},
		{[]string{"diff", "--stack", "demo", "--base", "HEAD", "--format", "html"}, `--format "html": use table, json, markdown`},
	} {
		_, err := runIn(t, dir, c.args...)
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
