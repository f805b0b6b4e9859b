package pulumitool

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeBins(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFind(t *testing.T) {
	project := t.TempDir()
	empty := t.TempDir()
	t.Setenv("ZEROCOST_PULUMI_BIN", "")
	t.Setenv("PATH", empty)
	if _, err := Find(project); err == nil || !strings.Contains(err.Error(), "pulumi-resource-cloudflare") || !strings.Contains(err.Error(), "make pulumi-tools") {
		t.Errorf("nothing installed: %v", err)
	}

	// Spread over PATH, as Pulumi's installer and `pulumi plugin install` leave them.
	cli, plugin := filepath.Join(t.TempDir(), "cli"), filepath.Join(t.TempDir(), "plugin")
	fakeBins(t, cli, "pulumi", "pulumi-language-go")
	fakeBins(t, plugin, "pulumi-resource-cloudflare")
	t.Setenv("PATH", cli+string(os.PathListSeparator)+plugin)
	tools, err := Find(project)
	if err != nil {
		t.Fatal(err)
	}
	if tools.Dirs() != cli+string(os.PathListSeparator)+plugin || tools.Provider() != filepath.Join(plugin, "pulumi-resource-cloudflare") {
		t.Errorf("on PATH: dirs %q, provider %q", tools.Dirs(), tools.Provider())
	}

	// .tools/pulumi/bin wins over PATH, and only when all three are there.
	local := filepath.Join(project, ".tools", "pulumi", "bin")
	fakeBins(t, local, "pulumi", "pulumi-language-go")
	if tools, _ := Find(project); tools.Dirs() == local {
		t.Errorf("a partial .tools/pulumi/bin was used")
	}
	fakeBins(t, local, "pulumi-resource-cloudflare")
	if tools, err := Find(project); err != nil || tools.Dirs() != local {
		t.Errorf(".tools/pulumi/bin: %v %v", tools, err)
	}

	// $ZEROCOST_PULUMI_BIN wins over both.
	own := t.TempDir()
	fakeBins(t, own, Binaries...)
	t.Setenv("ZEROCOST_PULUMI_BIN", own)
	if tools, err := Find(project); err != nil || tools.Dirs() != own {
		t.Errorf("$ZEROCOST_PULUMI_BIN: %v %v", tools, err)
	}
}

func TestFindCLI(t *testing.T) {
	project := t.TempDir()
	t.Setenv("ZEROCOST_PULUMI_BIN", "")
	t.Setenv("PATH", t.TempDir())
	if _, err := FindCLI(project); err == nil || !strings.Contains(err.Error(), "make pulumi-tools") {
		t.Errorf("nothing installed: %v", err)
	}
	onPath := t.TempDir()
	fakeBins(t, onPath, "pulumi")
	t.Setenv("PATH", onPath)
	if p, err := FindCLI(project); err != nil || p != filepath.Join(onPath, "pulumi") {
		t.Errorf("on PATH: %q %v", p, err)
	}
	// .tools/pulumi/bin wins over PATH; the CLI alone is enough.
	local := filepath.Join(project, ".tools", "pulumi", "bin")
	fakeBins(t, local, "pulumi")
	if p, err := FindCLI(project); err != nil || p != filepath.Join(local, "pulumi") {
		t.Errorf(".tools/pulumi/bin: %q %v", p, err)
	}
}

func TestRequired(t *testing.T) {
	for v, want := range map[string]bool{"": false, "0": false, "1": true, "require": true} {
		t.Setenv(EnvRequire, v)
		if Required() != want {
			t.Errorf("%s=%q: Required() is %v", EnvRequire, v, !want)
		}
	}
}
