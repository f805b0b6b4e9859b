package root

import (
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionFrom(t *testing.T) {
	rev := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "1371089aabbccddeeff00112233445566778899a"}}
	for name, c := range map[string]struct {
		ldflags string
		info    *debug.BuildInfo
		want    string
	}{
		"ldflags win":        {"v1.2.0", &debug.BuildInfo{Main: debug.Module{Version: "v1.1.0"}}, "v1.2.0"},
		"go install @v1.1.0": {"dev", &debug.BuildInfo{Main: debug.Module{Version: "v1.1.0"}, Settings: rev}, "v1.1.0"},
		"pseudo-version":     {"dev", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261207050000-1371089aabbc"}}, "v0.0.0-20261207050000-1371089aabbc"},
		"clone build":        {"dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: rev}, "dev-1371089aabbc"},
		"changed clone":      {"dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: append(rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"})}, "dev-1371089aabbc-dirty"},
		"no VCS stamp":       {"dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		"no build info":      {"dev", nil, "dev"},
	} {
		if got := versionFrom(c.ldflags, c.info); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
}

// A built binary prints the version its own build info gives: the module
// version go build stamped (a pseudo-version naming the commit in a clone),
// else the commit, else dev (GOFLAGS=-buildvcs=false or a git worktree
// stamp neither).
func TestBuiltBinaryVersion(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "zerocost")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/zerocost").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	info := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
	for _, line := range strings.Split(string(meta), "\n") {
		f := strings.Fields(line)
		// Go stamps the main module's version too (a pseudo-version from
		// the commit in a clone since Go 1.24; "(devel)" without VCS).
		if len(f) >= 3 && f[0] == "mod" {
			info.Main.Version = f[2]
		}
		if len(f) == 2 && f[0] == "build" {
			k, v, _ := strings.Cut(f[1], "=")
			info.Settings = append(info.Settings, debug.BuildSetting{Key: k, Value: v})
		}
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "zerocost version " + versionFrom("dev", info) + "\n"; string(out) != want {
		t.Errorf("%q, want %q", out, want)
	}
}
