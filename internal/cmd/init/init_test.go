package initcmd

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	deploycmd "github.com/zerocost/zerocost/internal/cmd/deploy"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/deploy"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/pulumitool"
	"github.com/zerocost/zerocost/internal/stack"
)

const repo = "../../.."

// newProject is a project folder holding the repository's Pulumi.yaml only.
func newProject(t *testing.T) string { return cmdtest.Project(t, repo, "Pulumi.yaml") }

// run runs init in dir; stackInit stands in for the pulumi CLI (nil: none).
func run(t *testing.T, dir string, stackInit func(context.Context, string, string) (bool, error), args ...string) (string, string, error) {
	t.Helper()
	ios, out, errOut := cmdutil.Test()
	if stackInit == nil {
		stackInit = func(context.Context, string, string) (bool, error) { return false, nil }
	}
	cmd := NewCmd(&cmdutil.Factory{IO: ios, ProjectDir: dir}, func(o *Options) error { o.StackInit = stackInit; return Run(o) })
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestInitEveryPattern(t *testing.T) {
	for _, pattern := range stack.Patterns {
		t.Run(pattern, func(t *testing.T) {
			dir := newProject(t)
			out, errOut, err := run(t, dir, nil, "--stack", "mine", "--pattern", pattern, "--product", "faq")
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := stack.LoadFile(dir, "mine")
			if err != nil {
				t.Fatalf("the written stack does not load: %v", err)
			}
			if len(cfg.Products) != 1 || cfg.Products[0].Name != "faq" || cfg.Products[0].Pattern != pattern || cfg.AccountID != stack.PlaceholderAccountID {
				t.Errorf("config %+v", cfg)
			}
			if _, err := plan.Build(cfg, dir); err != nil {
				t.Errorf("plan refuses the new stack: %v", err)
			}
			text, _ := os.ReadFile(stack.FilePath(dir, "mine"))
			for _, st := range stack.SettingsTable {
				commented := strings.Contains(string(text), "#   "+st.Name+":")
				if commented != slices.Contains(st.Patterns, pattern) {
					t.Errorf("setting %s commented: %v, a setting of %s: %v", st.Name, commented, pattern, !commented)
				}
			}
			if !strings.Contains(errOut, "no pulumi CLI on PATH") || !strings.Contains(out, "next: zerocost dev --stack mine") ||
				!strings.Contains(out, "pulumi config set zerocost:accountId") {
				t.Errorf("stdout %q, stderr %q", out, errOut)
			}
		})
	}
}

func TestInitWithAccount(t *testing.T) {
	dir := newProject(t)
	const account = "0123456789abcdef0123456789abcdef"
	out, _, err := run(t, dir, nil, "--stack", "prod", "--pattern", "async-pipeline", "--product", "mailer", "--account", account)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := stack.LoadFile(dir, "prod")
	if err != nil || cfg.AccountID != account {
		t.Fatalf("%+v, %v", cfg, err)
	}
	if strings.Contains(out, "accountId") {
		t.Errorf("asks for the account it was given: %s", out)
	}
}

func TestInitNeverOverwrites(t *testing.T) {
	dir := newProject(t)
	path := stack.FilePath(dir, "mine")
	if err := os.WriteFile(path, []byte("config: {} # mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ran := false
	_, _, err := run(t, dir, func(context.Context, string, string) (bool, error) { ran = true; return true, nil },
		"--stack", "mine", "--pattern", "edge-cache", "--product", "faq")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "exists: init never overwrites") ||
		!strings.Contains(err.Error(), "zerocost product add --stack mine") {
		t.Fatalf("exit %d: %v", cmdutil.ExitCode(err), err)
	}
	if b, _ := os.ReadFile(path); string(b) != "config: {} # mine\n" || ran {
		t.Errorf("file now %q; pulumi stack init ran: %v", b, ran)
	}
}

func TestInitFlags(t *testing.T) {
	for args, want := range map[string]string{
		"--pattern edge-cache --product faq":                           "--stack is required",
		"--stack Mine --pattern edge-cache --product faq":              `--stack "Mine" is not a valid stack name`,
		"--stack mine --product faq":                                   "--pattern is required",
		"--stack mine --pattern cache --product faq":                   `--pattern "cache" is not a pattern`,
		"--stack mine --pattern edge-cache":                            "--product is required",
		"--stack mine --pattern edge-cache --product FAQ":              `--product "FAQ" is not a valid product name`,
		"--stack mine --pattern edge-cache --product faq --account 12": `--account "12" is not a Cloudflare account id`,
	} {
		dir := newProject(t)
		_, _, err := run(t, dir, nil, strings.Fields(args)...)
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: exit %d: %v; want %q", args, cmdutil.ExitCode(err), err, want)
		}
		if files, _ := cmdutil.StackFiles(dir); len(files) != 0 {
			t.Errorf("%s: wrote %v", args, files)
		}
	}
}

// What init leaves without --account, plan and dev take (above) and
// deploy's preflight refuses, naming the key.
func TestDeployRefusesThePlaceholder(t *testing.T) {
	dir := newProject(t)
	if _, _, err := run(t, dir, nil, "--stack", "mine", "--pattern", "event-agent", "--product", "bot"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{deploy.EnvPulumiToken: "pul-x", deploy.EnvCloudflareToken: "cf"}
	err := deploy.Preflight(deploy.Machine{Getenv: func(k string) string { return env[k] },
		LookPath: func(string) (string, error) { return "/bin/pulumi", nil }, ProjectDir: dir, StackFile: stack.FilePath(dir, "mine")})
	if !deploy.IsUsage(err) || !strings.Contains(err.Error(), "zerocost:accountId is the placeholder") {
		t.Fatalf("not a usage error: %v", err)
	}
	// `zerocost deploy` says it with the secrets still to set, before the preflight.
	ios, _, _ := cmdutil.Test()
	cmd := deploycmd.NewCmd(&cmdutil.Factory{IO: ios, ProjectDir: dir}, nil)
	err = cmdtest.Execute(cmd, ios, "--stack", "mine", "--yes")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "zerocost:accountId is the placeholder") ||
		!strings.Contains(err.Error(), "zerocost:anthropicApiKey is not set") {
		t.Errorf("deploy: exit %d: %v", cmdutil.ExitCode(err), err)
	}
}

// With the real pulumi CLI on a file:// backend: the stack exists and is
// selected, and its file keeps the product and gains the encryption salt.
func TestInitWithPulumi(t *testing.T) {
	tools, err := pulumitool.Find(repo)
	if err != nil {
		t.Skipf("needs the pulumi CLI (`make pulumi-tools`): %v", err)
	}
	dir := newProject(t)
	state := t.TempDir()
	t.Setenv("PATH", filepath.Dir(tools["pulumi"])+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("PULUMI_BACKEND_URL", "file://"+state)
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "test")
	t.Setenv("PULUMI_HOME", t.TempDir())
	_, errOut, err := run(t, dir, PulumiStackInit, "--stack", "mine", "--pattern", "edge-cache", "--product", "faq")
	if err != nil || !strings.Contains(errOut, "created and selected") {
		t.Fatalf("%v: %s", err, errOut)
	}
	text, _ := os.ReadFile(stack.FilePath(dir, "mine"))
	cfg, err := stack.LoadFile(dir, "mine")
	if err != nil || len(cfg.Products) != 1 || !strings.Contains(string(text), "encryptionsalt: ") {
		t.Fatalf("%v\n%s", err, text)
	}
	if name, err := cmdutil.PulumiSelected(context.Background(), dir); name != "mine" || err != nil {
		t.Errorf("selected %q, %v; want mine", name, err)
	}
	// A second init of the same stack fails before pulumi runs.
	if _, _, err := run(t, dir, PulumiStackInit, "--stack", "mine", "--pattern", "edge-cache", "--product", "faq"); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Errorf("second init: %v", err)
	}
}
