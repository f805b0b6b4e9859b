package deploy

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zerocost/zerocost/internal/pulumitool"
)

// Tests against the real Pulumi CLI, for what needs no program: stacks,
// config, outputs, locks, and the flags CLIRunner passes. The CLI is the one
// pulumitool.FindCLI finds (.tools/pulumi/bin after `make pulumi-tools`, else
// PATH); without it the tests are skipped, saying why, unless
// ZEROCOST_PULUMI_REQUIRE is set (as `make test` does where the tools are
// installed): then they fail.

var realCLI struct {
	once sync.Once
	dir  string // holds the pulumi binary
	err  error
}

type realPulumi struct {
	project string // Pulumi.yaml of project zerocost, with no program
	state   string // the file backend
}

// useRealPulumi puts the real CLI first on PATH, gives it a fresh
// PULUMI_HOME, no network, a passphrase, and a file backend it is logged in
// to.
func useRealPulumi(t *testing.T) *realPulumi {
	t.Helper()
	realCLI.once.Do(func() {
		var bin string
		bin, realCLI.err = pulumitool.FindCLI(filepath.Join("..", ".."))
		realCLI.dir = filepath.Dir(bin)
	})
	if realCLI.err != nil {
		if pulumitool.Required() {
			t.Fatalf("%s is set, and the real Pulumi CLI is missing: %v", pulumitool.EnvRequire, realCLI.err)
		}
		t.Skip(realCLI.err)
	}
	t.Setenv("PATH", realCLI.dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("PULUMI_HOME", t.TempDir())
	t.Setenv("PULUMI_SKIP_UPDATE_CHECK", "true")
	t.Setenv("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "true")
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "test")
	for _, k := range []string{EnvPulumiBackend, EnvPulumiToken, EnvPassphraseFile} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	rp := &realPulumi{project: t.TempDir(), state: t.TempDir()}
	if err := os.WriteFile(filepath.Join(rp.project, "Pulumi.yaml"), []byte("name: zerocost\nruntime: go\nmain: infra/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rp.pulumi(t, "login", "file://"+rp.state)
	return rp
}

// pulumi runs the CLI in the project folder and fails the test if it fails.
func (rp *realPulumi) pulumi(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(tctx(t), "pulumi", append([]string{"--non-interactive", "--cwd", rp.project}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pulumi %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Stack creation and selection, config (secret, plain, not set, a wrong
// passphrase) and the outputs of a stack never deployed, with the real CLI.
func TestRealCLIStackConfigOutputs(t *testing.T) {
	rp := useRealPulumi(t)
	r := openDemo(t, rp.project)
	b, err := os.ReadFile(filepath.Join(rp.project, "Pulumi.demo.yaml"))
	if err != nil || !strings.Contains(string(b), "encryptionsalt:") {
		t.Fatalf("the stack was not created with the passphrase provider: %q %v", b, err)
	}
	if _, err := OpenCLI(tctx(t), "demo", rp.project, nil); err != nil {
		t.Fatalf("selecting the existing stack: %v", err)
	}

	rp.pulumi(t, "config", "set", "--secret", CloudflareTokenKey, "cf-secret-token", "--stack", "demo")
	rp.pulumi(t, "config", "set", "zerocost:workersDevSubdomain", "my subdomain", "--stack", "demo")
	if b, _ := os.ReadFile(filepath.Join(rp.project, "Pulumi.demo.yaml")); strings.Contains(string(b), "cf-secret-token") {
		t.Fatal("the secret is in the stack file in clear")
	}
	if v, ok, err := r.Config(tctx(t), CloudflareTokenKey); err != nil || !ok || v != "cf-secret-token" {
		t.Errorf("secret: %q %v %v", v, ok, err)
	}
	if v, ok, err := r.Config(tctx(t), "zerocost:workersDevSubdomain"); err != nil || !ok || v != "my subdomain" {
		t.Errorf("plain: %q %v %v", v, ok, err)
	}
	for _, key := range []string{"zerocost:authToken", "cloudflare:baseUrl"} {
		if v, ok, err := r.Config(tctx(t), key); err != nil || ok || v != "" {
			t.Errorf("%s is not set: %q %v %v", key, v, ok, err)
		}
	}

	outs, err := r.Outputs(tctx(t))
	if err != nil || outs == nil || len(outs) != 0 {
		t.Errorf("outputs of a stack never deployed: %v %v", outs, err)
	}

	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "wrong")
	_, ok, err := r.Config(tctx(t), CloudflareTokenKey)
	var oe *OpError
	if !errors.As(err, &oe) || ok || !strings.Contains(oe.Stderr, "incorrect passphrase") || errors.Is(err, ErrStackLocked) {
		t.Errorf("wrong passphrase: ok %v, %T %v", ok, err, err)
	}
}

// A lock file left in a self-managed backend makes refresh and up fail with
// a LockedError, before anything runs.
func TestRealCLILockedStack(t *testing.T) {
	rp := useRealPulumi(t)
	r := openDemo(t, rp.project)
	// The file backend's lock layout: .pulumi/locks/organization/<project>/<stack>/<id>.json.
	locks := filepath.Join(rp.state, ".pulumi", "locks", "organization", "zerocost", "demo")
	if err := os.MkdirAll(locks, 0o755); err != nil {
		t.Fatal(err)
	}
	lock := `{"pid":4242,"username":"ci","hostname":"runner","timestamp":"2026-11-27T12:00:00Z"}`
	if err := os.WriteFile(filepath.Join(locks, "5c1d.json"), []byte(lock), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := r.Refresh(tctx(t), &recProgress{})
	if !errors.Is(err, ErrStackLocked) {
		t.Fatalf("refresh: %v is not ErrStackLocked (has the file backend's lock layout changed?)", err)
	}
	var oe *OpError
	if !errors.As(err, &oe) || !strings.Contains(oe.Stderr, "created by ci@runner (pid 4242)") {
		t.Errorf("the lock's owner is not in %#v", oe)
	}
	if _, _, err := r.Up(tctx(t), &recProgress{}); !errors.Is(err, ErrStackLocked) || !strings.Contains(err.Error(), "stack demo is locked by another update") {
		t.Errorf("up: %v", err)
	}
}

// The real CLI takes the flags CLIRunner passes to an engine command
// (--event-log needs PULUMI_DEBUG_COMMANDS): a preview of a project whose
// program folder is missing fails on that, and its stderr is in the error.
func TestRealCLIEngineCommandFails(t *testing.T) {
	rp := useRealPulumi(t)
	r := openDemo(t, rp.project)
	p := &recProgress{}
	_, err := r.Preview(tctx(t), p)
	var oe *OpError
	if !errors.As(err, &oe) || errors.Is(err, ErrStackLocked) {
		t.Fatalf("preview: %T %v", err, err)
	}
	if !strings.HasPrefix(err.Error(), "pulumi preview failed: failed to run preview: exit status") || !strings.Contains(oe.Stderr, "project 'main' could not be read") {
		t.Errorf("error %q", err)
	}
	if len(p.steps)+len(p.diags) != 0 {
		t.Errorf("progress %+v", p)
	}
}
