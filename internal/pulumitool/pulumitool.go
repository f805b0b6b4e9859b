// Package pulumitool finds the Pulumi CLI, its Go language host and the
// Cloudflare provider plugin for the tests that drive the real engine (the
// end-to-end test, the slim package's schema check). It only looks; `make
// pulumi-tools` installs them from ../shared/tools/pulumi into .tools/pulumi.
package pulumitool

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binaries the engine needs for zerocost's program.
var Binaries = []string{"pulumi", "pulumi-language-go", "pulumi-resource-cloudflare"}

// Env keeps the engine offline: no update check, no plugin downloads.
var Env = []string{
	"PULUMI_SKIP_UPDATE_CHECK=true",
	"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true",
}

// Find returns the folder holding all of Binaries: $ZEROCOST_PULUMI_BIN, then
// <projectDir>/.tools/pulumi/bin (where `make pulumi-tools` puts them), then
// the folders on PATH. When none has all three it says what is missing and
// how to get it.
func Find(projectDir string) (string, error) {
	var dirs []string
	if d := os.Getenv("ZEROCOST_PULUMI_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, filepath.Join(projectDir, ".tools", "pulumi", "bin"))
	var missing []string
	for _, d := range dirs {
		if m := missingIn(d); len(m) == 0 {
			return filepath.Abs(d)
		}
	}
	onPath := ""
	for _, b := range Binaries {
		p, err := exec.LookPath(b)
		if err != nil {
			missing = append(missing, b)
			continue
		}
		if onPath == "" {
			onPath = filepath.Dir(p)
		}
	}
	if len(missing) == 0 && len(missingIn(onPath)) == 0 {
		return onPath, nil
	}
	if len(missing) == 0 {
		return "", fmt.Errorf("the Pulumi binaries (%s) are on PATH but not in one folder", strings.Join(Binaries, ", "))
	}
	return "", fmt.Errorf("no %s in $ZEROCOST_PULUMI_BIN, .tools/pulumi/bin or PATH: run `make pulumi-tools` (needs ../shared/tools/pulumi)", strings.Join(missing, ", "))
}

func missingIn(dir string) []string {
	var m []string
	for _, b := range Binaries {
		fi, err := os.Stat(filepath.Join(dir, b))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			m = append(m, b)
		}
	}
	return m
}
