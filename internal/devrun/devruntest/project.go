package devruntest

import (
	"os"
	"path/filepath"
	"testing"
)

// Project writes a project folder of its own (Pulumi.yaml, Pulumi.<stack>.yaml,
// ...: file name to content) and returns it; dev's state file goes under it.
func Project(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
