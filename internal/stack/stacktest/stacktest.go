// Package stacktest writes Pulumi projects for tests: a Pulumi.yaml, one
// stack's Pulumi.<stack>.yaml and the files its products name (prompts,
// hooks).
package stacktest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zerocost/zerocost/internal/stack"
)

// WriteProject writes a project of one stack into dir: Pulumi.yaml,
// Pulumi.<stackName>.yaml holding config, and files (slash-separated paths
// under dir, their folders made).
func WriteProject(dir, stackName, config string, files map[string]string) error {
	all := map[string]string{
		"Pulumi.yaml":                   "name: zerocost-test\nruntime: go\n",
		"Pulumi." + stackName + ".yaml": config,
	}
	for k, v := range files {
		all[k] = v
	}
	for name, body := range all {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Project writes such a project into a temporary folder of the test and
// returns the folder.
func Project(t testing.TB, stackName, config string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := WriteProject(dir, stackName, config, files); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Config is the config of stack "demo" with a placeholder account id and
// products, a JSON list as in zerocost:products.
func Config(t testing.TB, products string) *stack.Config {
	t.Helper()
	cfg, err := stack.FromValues("demo", map[string]stack.Value{
		"accountId": {Text: "0123456789abcdef0123456789abcdef"},
		"products":  {Text: products},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
