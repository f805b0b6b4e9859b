package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/stack"
)

// Environment variables the preflight reads.
const (
	EnvCloudflareToken  = cfapi.EnvToken
	EnvPulumiToken      = "PULUMI_ACCESS_TOKEN"
	EnvPulumiBackend    = "PULUMI_BACKEND_URL"
	EnvPulumiHome       = "PULUMI_HOME"
	EnvPassphrase       = "PULUMI_CONFIG_PASSPHRASE"
	EnvPassphraseFile   = "PULUMI_CONFIG_PASSPHRASE_FILE"
	PulumiCloudURL      = "https://api.pulumi.com"
	pulumiCLIInstallURL = "https://www.pulumi.com/docs/install/"
)

// Machine is what the preflight looks at.
type Machine struct {
	Getenv   func(string) string
	LookPath func(string) (string, error)
	// ProjectDir holds Pulumi.yaml; StackFile is Pulumi.<stack>.yaml.
	ProjectDir string
	StackFile  string
}

// Preflight checks, before anything runs, what `pulumi up` and the rollback
// need: the pulumi CLI, a Pulumi backend login, the stack's secrets
// passphrase when it uses one, and a Cloudflare API token. It reports every
// problem at once, as a configuration error (exit code 2).
func Preflight(m Machine) error {
	var errs []error
	if _, err := m.LookPath("pulumi"); err != nil {
		errs = append(errs, fmt.Errorf("the pulumi CLI is not on PATH: zerocost deploy runs infra/ through it; install it (%s), or in GitHub Actions add `uses: pulumi/actions@v6` with no command", pulumiCLIInstallURL))
	}
	sf, err := readStackFile(m.StackFile)
	if err != nil {
		errs = append(errs, err)
	}
	backend, err := m.backend()
	switch {
	case err != nil:
		errs = append(errs, err)
	case backend == "":
		errs = append(errs, fmt.Errorf("no Pulumi backend: set %s (Pulumi Cloud), or %s for a self-managed backend (s3://bucket, gs://bucket, azblob://container, file://DIR), or run `pulumi login`", EnvPulumiToken, EnvPulumiBackend))
	}
	if sf != nil {
		selfManaged := backend != "" && !strings.HasPrefix(backend, "https://") && !strings.HasPrefix(backend, "http://")
		passphrase := m.Getenv(EnvPassphrase) != "" || m.Getenv(EnvPassphraseFile) != ""
		switch {
		case passphrase:
		case sf.EncryptionSalt != "":
			errs = append(errs, fmt.Errorf("%s encrypts its secrets with a passphrase (encryptionsalt): set %s or %s", filepath.Base(m.StackFile), EnvPassphrase, EnvPassphraseFile))
		case selfManaged && sf.SecretsProvider == "":
			errs = append(errs, fmt.Errorf("the self-managed backend %s keeps stack secrets with a passphrase by default: set %s or %s (or a secretsprovider in %s)", backend, EnvPassphrase, EnvPassphraseFile, filepath.Base(m.StackFile)))
		}
		if sf.accountID == stack.PlaceholderAccountID {
			errs = append(errs, stack.PlaceholderAccountError(filepath.Base(m.StackFile)))
		}
		if m.Getenv(EnvCloudflareToken) == "" && !sf.has(CloudflareTokenKey) {
			errs = append(errs, fmt.Errorf("no Cloudflare API token: set %s, or `pulumi config set --secret %s <token>` (permissions: docs/ci.md)", EnvCloudflareToken, CloudflareTokenKey))
		}
	}
	if len(errs) > 0 {
		return usageError(errors.Join(errs...))
	}
	return nil
}

type stackFile struct {
	Config          map[string]any `yaml:"config"`
	EncryptionSalt  string         `yaml:"encryptionsalt"`
	SecretsProvider string         `yaml:"secretsprovider"`
	accountID       string
}

func (s *stackFile) has(key string) bool {
	_, ok := s.Config[key]
	return ok
}

func readStackFile(path string) (*stackFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sf stackFile
	if err := yaml.Unmarshal(b, &sf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if vals, err := stack.ParseYAML(b); err == nil {
		sf.accountID = vals[stack.KeyAccountID].Text
	}
	return &sf, nil
}

// backend is the backend URL the pulumi CLI will use: PULUMI_BACKEND_URL,
// Pulumi.yaml's backend.url, Pulumi Cloud when PULUMI_ACCESS_TOKEN is set,
// else the `pulumi login` state; "" when there is none.
func (m Machine) backend() (string, error) {
	if u := m.Getenv(EnvPulumiBackend); u != "" {
		return u, nil
	}
	if b, err := os.ReadFile(filepath.Join(m.ProjectDir, "Pulumi.yaml")); err == nil {
		var proj struct {
			Backend struct {
				URL string `yaml:"url"`
			} `yaml:"backend"`
		}
		if err := yaml.Unmarshal(b, &proj); err != nil {
			return "", fmt.Errorf("Pulumi.yaml: %w", err)
		}
		if proj.Backend.URL != "" {
			return proj.Backend.URL, nil
		}
	}
	if m.Getenv(EnvPulumiToken) != "" {
		return PulumiCloudURL, nil
	}
	home := m.Getenv(EnvPulumiHome)
	if home == "" {
		h := m.Getenv("HOME")
		if h == "" {
			return "", nil
		}
		home = filepath.Join(h, ".pulumi")
	}
	b, err := os.ReadFile(filepath.Join(home, "credentials.json"))
	if err != nil {
		return "", nil // never logged in
	}
	var creds struct {
		Current string `json:"current"`
	}
	if err := json.Unmarshal(b, &creds); err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Join(home, "credentials.json"), err)
	}
	return creds.Current, nil
}
