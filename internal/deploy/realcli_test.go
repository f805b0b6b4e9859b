package deploy

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Tests against the real Pulumi CLI, for what needs no program: stacks,
// config, outputs, locks, and the flags CLIRunner passes. The CLI comes from
// ../shared/tools/pulumi beside the repository (its pulumi.xz, unpacked once
// per test binary into a temporary folder and checked against SHA256SUMS),
// else from PATH; without either the tests are skipped, saying why.

var realCLI struct {
	once sync.Once
	dir  string // holds the pulumi binary
	tmp  string // removed by TestMain
	skip string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if realCLI.tmp != "" {
		os.RemoveAll(realCLI.tmp)
	}
	os.Exit(code)
}

// sharedPulumi is ../shared/tools/pulumi relative to the repository root.
var sharedPulumi = filepath.Join("..", "..", "..", "shared", "tools", "pulumi")

func findRealCLI() (dir, skip string) {
	xz := filepath.Join(sharedPulumi, "pulumi.xz")
	_, shared := os.Stat(xz)
	if shared == nil {
		dir, err := unpackPulumi(xz)
		if err == nil {
			return dir, ""
		}
		if p, perr := exec.LookPath("pulumi"); perr == nil {
			return filepath.Dir(p), ""
		}
		return "", fmt.Sprintf("cannot unpack %s (%v), and no pulumi on PATH", xz, err)
	}
	if p, err := exec.LookPath("pulumi"); err == nil {
		return filepath.Dir(p), ""
	}
	abs, _ := filepath.Abs(xz)
	return "", fmt.Sprintf("no Pulumi CLI: %s does not exist and pulumi is not on PATH", abs)
}

// unpackPulumi decompresses pulumi.xz (only the CLI: these tests need no
// language host or provider) and checks it against SHA256SUMS.
func unpackPulumi(xz string) (string, error) {
	xzBin, err := exec.LookPath("xz")
	if err != nil {
		return "", errors.New("xz is not on PATH")
	}
	want, err := sumOf(filepath.Join(filepath.Dir(xz), "SHA256SUMS"), "pulumi")
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "zerocost-pulumi-cli-")
	if err != nil {
		return "", err
	}
	realCLI.tmp = tmp
	bin := filepath.Join(tmp, "pulumi")
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	cmd := exec.Command(xzBin, "-dc", xz)
	cmd.Stdout = io.MultiWriter(out, h)
	runErr := cmd.Run()
	if err := out.Close(); err != nil {
		return "", err
	}
	if runErr != nil {
		return "", fmt.Errorf("xz -dc %s: %w", xz, runErr)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return "", fmt.Errorf("%s unpacks to sha256 %s, SHA256SUMS says %s", xz, got, want)
	}
	return tmp, nil
}

func sumOf(sums, name string) (string, error) {
	f, err := os.Open(sums)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[1] == name {
			return fields[0], nil
		}
	}
	return "", fmt.Errorf("%s has no line for %s", sums, name)
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
	realCLI.once.Do(func() { realCLI.dir, realCLI.skip = findRealCLI() })
	if realCLI.skip != "" {
		t.Skip(realCLI.skip)
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
