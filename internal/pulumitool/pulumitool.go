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

// Tools are the located binaries, by name.
type Tools map[string]string

// Dirs is what to put first on PATH so the engine finds the three binaries
// (it looks for plugins on PATH), without repeats.
func (t Tools) Dirs() string {
	var dirs []string
	for _, b := range Binaries {
		d := filepath.Dir(t[b])
		if !contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return strings.Join(dirs, string(os.PathListSeparator))
}

// Provider is the provider plugin's path.
func (t Tools) Provider() string { return t["pulumi-resource-cloudflare"] }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Find locates the binaries: all three in $ZEROCOST_PULUMI_BIN, else in
// <projectDir>/.tools/pulumi/bin (where `make pulumi-tools` puts them), else
// each on PATH (e.g. the CLI from Pulumi's installer, which ships the Go
// language host, and the plugin's folder under ~/.pulumi/plugins added to
// PATH). When one is missing it says which and how to get it.
func Find(projectDir string) (Tools, error) {
	for _, d := range searchDirs(projectDir) {
		if t, ok := inDir(d); ok {
			return t, nil
		}
	}
	t := Tools{}
	var missing []string
	for _, b := range Binaries {
		p, err := exec.LookPath(b)
		if err != nil {
			missing = append(missing, b)
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		t[b] = abs
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no %s in $ZEROCOST_PULUMI_BIN, .tools/pulumi/bin or PATH: run `make pulumi-tools` (needs ../shared/tools/pulumi), or install Pulumi and `pulumi plugin install resource cloudflare` and put both on PATH", strings.Join(missing, ", "))
	}
	return t, nil
}

// searchDirs are the folders searched before PATH, first first.
func searchDirs(projectDir string) []string {
	var dirs []string
	if d := os.Getenv("ZEROCOST_PULUMI_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	return append(dirs, filepath.Join(projectDir, ".tools", "pulumi", "bin"))
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func inDir(dir string) (Tools, bool) {
	t := Tools{}
	for _, b := range Binaries {
		p := filepath.Join(dir, b)
		if !isExecutable(p) {
			return nil, false
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, false
		}
		t[b] = abs
	}
	return t, true
}

// EnvRequire, set to anything but "" or "0", makes the tests that need the
// Pulumi tools fail instead of skipping when they are missing. `make test`
// sets it when ../shared/tools/pulumi is there (so `make pulumi-tools` has
// installed them), and so does the CI workflow, which installs them.
const EnvRequire = "ZEROCOST_PULUMI_REQUIRE"

// Required reports whether EnvRequire is set.
func Required() bool {
	v := os.Getenv(EnvRequire)
	return v != "" && v != "0"
}

// FindCLI locates the pulumi CLI alone, for what needs no program and no
// provider: in $ZEROCOST_PULUMI_BIN, else <projectDir>/.tools/pulumi/bin,
// else on PATH.
func FindCLI(projectDir string) (string, error) {
	for _, d := range searchDirs(projectDir) {
		if p := filepath.Join(d, "pulumi"); isExecutable(p) {
			return filepath.Abs(p)
		}
	}
	p, err := exec.LookPath("pulumi")
	if err != nil {
		return "", fmt.Errorf("no pulumi in $ZEROCOST_PULUMI_BIN, .tools/pulumi/bin or PATH: run `make pulumi-tools` (needs ../shared/tools/pulumi), or install Pulumi")
	}
	return filepath.Abs(p)
}
