package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/stack"
)

type machine struct {
	env     map[string]string
	project string // Pulumi.yaml
	stack   string // Pulumi.demo.yaml
	creds   string // $HOME/.pulumi/credentials.json, "" for none
	noCLI   bool
}

func (m machine) check(t *testing.T) error {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if m.project == "" {
		m.project = "name: zerocost\nruntime: go\nmain: infra/\n"
	}
	write := func(path, text string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "Pulumi.yaml"), m.project)
	write(filepath.Join(dir, "Pulumi.demo.yaml"), m.stack)
	if m.creds != "" {
		write(filepath.Join(home, ".pulumi", "credentials.json"), m.creds)
	}
	env := map[string]string{"HOME": home}
	for k, v := range m.env {
		env[k] = v
	}
	return Preflight(Machine{
		Getenv: func(k string) string { return env[k] },
		LookPath: func(name string) (string, error) {
			if m.noCLI || name != "pulumi" {
				return "", exec.ErrNotFound
			}
			return "/usr/local/bin/pulumi", nil
		},
		ProjectDir: dir,
		StackFile:  filepath.Join(dir, "Pulumi.demo.yaml"),
	})
}

const plainStack = "config:\n  zerocost:accountId: abc\n"

func TestPreflightPasses(t *testing.T) {
	for name, m := range map[string]machine{
		"cloud token": {env: map[string]string{EnvPulumiToken: "pul-x", EnvCloudflareToken: "cf"}, stack: plainStack},
		"pulumi login state": {creds: `{"current":"https://api.pulumi.com","accessTokens":{"https://api.pulumi.com":"pul-x"}}`,
			env: map[string]string{EnvCloudflareToken: "cf"}, stack: plainStack},
		"token in stack config": {env: map[string]string{EnvPulumiToken: "pul-x"},
			stack: "config:\n  cloudflare:apiToken:\n    secure: AAABAxyz\n"},
		"s3 backend with passphrase": {env: map[string]string{EnvPulumiBackend: "s3://bucket", EnvPassphrase: "pw", EnvCloudflareToken: "cf"}, stack: plainStack},
		"backend in Pulumi.yaml, passphrase file": {project: "name: zerocost\nruntime: go\nbackend:\n  url: file:///srv/state\n",
			env: map[string]string{EnvPassphraseFile: "/run/pw", EnvCloudflareToken: "cf"}, stack: plainStack},
		"self-managed with a KMS secrets provider": {env: map[string]string{EnvPulumiBackend: "gs://b", EnvCloudflareToken: "cf"},
			stack: "secretsprovider: gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k\n" + plainStack},
	} {
		t.Run(name, func(t *testing.T) {
			if err := m.check(t); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
}

func TestPreflightRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		m    machine
		want []string
	}{
		"pulumi CLI missing": {machine{noCLI: true, env: map[string]string{EnvPulumiToken: "p", EnvCloudflareToken: "cf"}, stack: plainStack},
			[]string{"pulumi CLI is not on PATH", "pulumi/actions@v6"}},
		"no backend": {machine{env: map[string]string{EnvCloudflareToken: "cf"}, stack: plainStack},
			[]string{"no Pulumi backend", "PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL", "pulumi login"}},
		"logged out": {machine{creds: `{"current":""}`, env: map[string]string{EnvCloudflareToken: "cf"}, stack: plainStack},
			[]string{"no Pulumi backend"}},
		"no Cloudflare token": {machine{env: map[string]string{EnvPulumiToken: "p"}, stack: plainStack},
			[]string{"no Cloudflare API token", "CLOUDFLARE_API_TOKEN", "pulumi config set --secret cloudflare:apiToken"}},
		"passphrase stack without passphrase": {machine{env: map[string]string{EnvPulumiToken: "p", EnvCloudflareToken: "cf"}, stack: "encryptionsalt: v1:abc\n" + plainStack},
			[]string{"Pulumi.demo.yaml encrypts its secrets with a passphrase", "PULUMI_CONFIG_PASSPHRASE"}},
		"self-managed backend without passphrase": {machine{env: map[string]string{EnvPulumiBackend: "file:///srv/state", EnvCloudflareToken: "cf"}, stack: plainStack},
			[]string{"self-managed backend file:///srv/state", "PULUMI_CONFIG_PASSPHRASE"}},
		"placeholder account id": {machine{env: map[string]string{EnvPulumiToken: "p", EnvCloudflareToken: "cf"}, stack: "config:\n  zerocost:accountId: \"" + stack.PlaceholderAccountID + "\"\n"},
			[]string{"zerocost:accountId is the placeholder", "pulumi config set zerocost:accountId"}},
		"unreadable stack file": {machine{env: map[string]string{EnvPulumiToken: "p", EnvCloudflareToken: "cf"}, stack: "config: [\n"},
			[]string{"Pulumi.demo.yaml"}},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.m.check(t)
			if defaultExitCode(err) != 2 {
				t.Fatalf("exit code %d (%v), want 2", defaultExitCode(err), err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v\ndoes not say %q", err, w)
				}
			}
		})
	}
}

// Every problem is reported at once.
func TestPreflightReportsEverything(t *testing.T) {
	err := machine{noCLI: true, stack: plainStack}.check(t)
	var n int
	for _, w := range []string{"pulumi CLI", "no Pulumi backend", "no Cloudflare API token"} {
		if strings.Contains(err.Error(), w) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("reports %d of 3 problems: %v", n, err)
	}
	if !IsUsage(err) {
		t.Errorf("%T is not a UsageError", err)
	}
}
