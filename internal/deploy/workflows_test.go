package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"
)

const workflowsDir = "../../.github/workflows"

func workflowFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"*.yml", "*.yaml"} {
		m, err := filepath.Glob(filepath.Join(workflowsDir, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 2 {
		t.Fatalf("found %d workflows in %s, want the pull-request and deploy workflows", len(files), workflowsDir)
	}
	return files
}

// newLinter is actionlint without its shellcheck and pyflakes integrations
// (those binaries are not installed here).
func newLinter(t *testing.T, out *bytes.Buffer) *actionlint.Linter {
	t.Helper()
	l, err := actionlint.NewLinter(out, &actionlint.LinterOptions{Shellcheck: "", Pyflakes: ""})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestWorkflowsPassActionlint(t *testing.T) {
	var out bytes.Buffer
	errs, err := newLinter(t, &out).LintFiles(workflowFiles(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("%s:%d:%d: %s [%s]", e.Filepath, e.Line, e.Column, e.Message, e.Kind)
	}
}

// The lint must be able to fail: a workflow with a typo in an expression, an
// unknown input of a known action and an undefined job dependency.
func TestActionlintCatchesMistakes(t *testing.T) {
	bad := `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    needs: [nope]
    steps:
      - uses: actions/setup-go@v6
        with:
          go-version-fil: go.mod
      - run: echo ${{ github.evnt.name }}
`
	var out bytes.Buffer
	errs, err := newLinter(t, &out).Lint("bad.yml", []byte(bad), nil)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, e := range errs {
		kinds[e.Kind] = true
	}
	for _, k := range []string{"job-needs", "action", "expression"} {
		if !kinds[k] {
			t.Errorf("actionlint did not report a %s error; it reported %v", k, errs)
		}
	}
}

type workflow struct {
	On   map[string]any    `yaml:"on"`
	Env  map[string]string `yaml:"env"`
	Jobs map[string]struct {
		Env   map[string]string `yaml:"env"`
		Steps []struct {
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func readWorkflow(t *testing.T, name string) (*workflow, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(workflowsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	return &w, string(b)
}

func depText(t *testing.T) string {
	t.Helper()
	_, text := readWorkflow(t, "deploy.yml")
	return text
}

// What the CI templates promise (docs/ci.md).
func TestWorkflowsDoWhatDocsSay(t *testing.T) {
	for _, name := range []string{"pull-request.yml", "deploy.yml"} {
		w, text := readWorkflow(t, name)
		for k, v := range map[string]string{"WRANGLER_SEND_METRICS": "false", "CLOUDFLARE_CF_FETCH_ENABLED": "false",
			"WRANGLER_HIDE_BANNER": "true", "PULUMI_SKIP_UPDATE_CHECK": "true"} {
			if w.Env[k] != v {
				t.Errorf("%s: env %s = %q, want %q", name, k, w.Env[k], v)
			}
		}
		for job, j := range w.Jobs {
			for _, s := range j.Steps {
				if s.Uses == "" {
					continue
				}
				// Pinned by commit: TestWorkflowActionsArePinned.
				switch {
				case strings.HasPrefix(s.Uses, "actions/setup-go@") && s.With["go-version-file"] != "go.mod":
					t.Errorf("%s/%s: setup-go without go-version-file: go.mod", name, job)
				case strings.HasPrefix(s.Uses, "actions/setup-node@") && s.With["node-version"] != "22":
					t.Errorf("%s/%s: setup-node with node-version %q, want 22", name, job, s.With["node-version"])
				}
			}
		}
		if strings.Contains(text, "secrets.") && strings.Contains(text, "pull_request_target") {
			t.Errorf("%s: secrets on pull_request_target run fork code with them", name)
		}
	}

	pr, prText := readWorkflow(t, "pull-request.yml")
	if _, ok := pr.On["pull_request"]; !ok {
		t.Error("pull-request.yml does not run on pull_request")
	}
	if strings.Contains(prText+depText(t), "ZEROCOST_RUNNER") {
		t.Error("the workflows still ask for a large runner: infra/ builds on a standard one")
	}
	for _, want := range []string{"make test", "ZEROCOST_E2E: require", "pulumi plugin install resource cloudflare 6.18.0", "command: preview", "uses: pulumi/actions@",
		`cost diff --stack "$ZEROCOST_STACK" --base "$BASE_SHA" --format markdown`, `cost forecast --stack "$ZEROCOST_STACK" --format markdown`,
		"fetch-depth: 0", "marocchino/sticky-pull-request-comment@"} {
		if !strings.Contains(prText, want) {
			t.Errorf("pull-request.yml does not contain %q", want)
		}
	}
	// The cost diff runs without Cloudflare credentials (fork pull requests
	// get none either).
	cost := pr.Jobs["cost"]
	for _, s := range cost.Steps {
		if strings.Contains(s.Run, "CLOUDFLARE") || strings.Contains(s.Run, "secrets.") {
			t.Errorf("the cost job's step %q reads a credential", s.Run)
		}
	}
	for k, v := range cost.Env {
		if strings.Contains(v, "secrets.") || strings.HasPrefix(k, "CLOUDFLARE") {
			t.Errorf("the cost job's env %s = %q is a credential", k, v)
		}
	}
	dep, depText := readWorkflow(t, "deploy.yml")
	if _, ok := dep.On["push"]; !ok {
		t.Error("deploy.yml does not run on push")
	}
	for _, want := range []string{"pulumi plugin install resource cloudflare 6.18.0", "ZEROCOST_STACK: ${{ vars.ZEROCOST_STACK || 'demo' }}", `zerocost deploy --yes --stack "$ZEROCOST_STACK" --junit reports/verify.xml`,
		"actions/upload-artifact@", "mikepenz/action-junit-report@", "report_paths: reports/*.xml"} {
		if !strings.Contains(depText, want) {
			t.Errorf("deploy.yml does not contain %q", want)
		}
	}
	for _, secret := range []string{"CLOUDFLARE_API_TOKEN", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"} {
		if got := dep.Jobs["deploy"].Env[secret]; got != "${{ secrets."+secret+" }}" {
			t.Errorf("deploy job env %s = %q", secret, got)
		}
	}
}

// docs/ci.md's hourly free-tier watch passes actionlint and runs status with
// a threshold, the webhook from a secret (never a flag) and --every matching
// its hourly schedule.
func TestDocsStatusWorkflow(t *testing.T) {
	b, err := os.ReadFile("../../docs/ci.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "## Hourly free-tier watch")
	_, block, ok2 := strings.Cut(after, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/ci.md has no yaml block under \"## Hourly free-tier watch\"")
	}
	var out bytes.Buffer
	errs, err := newLinter(t, &out).Lint("status.yml", []byte(block), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("docs/ci.md status.yml:%d:%d: %s [%s]", e.Line, e.Column, e.Message, e.Kind)
	}
	for _, want := range []string{`cron: "5 * * * *"`, `status --stack "$ZEROCOST_STACK" --threshold 80 --every 1h`, "ZEROCOST_STATUS_WEBHOOK: ${{ secrets.ZEROCOST_STATUS_WEBHOOK }}", `>> "$GITHUB_STEP_SUMMARY"`} {
		if !strings.Contains(block, want) {
			t.Errorf("the status workflow lacks %q", want)
		}
	}
	if strings.Contains(block, "--webhook") {
		t.Error("the webhook URL is passed as a flag")
	}
}
