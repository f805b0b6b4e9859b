package root

import (
	"runtime/debug"
)

// version is what `zerocost --version` prints: Version when the build set
// it (-ldflags "-X .../root.Version=v1.2.3", as the release workflow does),
// else what the Go toolchain recorded in the binary.
func version() string {
	info, _ := debug.ReadBuildInfo()
	return versionFrom(Version, info)
}

// versionFrom is the version of a build: ldflags when set (not "dev"); else
// the module version of `go install github.com/zerocost/zerocost/cmd/zerocost@v1.2.3`;
// else the commit a build in a clone was made from (go build stamps
// vcs.revision, and vcs.modified when the work tree had changes); else "dev".
func versionFrom(ldflags string, info *debug.BuildInfo) string {
	if ldflags != "" && ldflags != "dev" {
		return ldflags
	}
	if info == nil {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v := "dev-" + rev
	if modified == "true" {
		v += "-dirty"
	}
	return v
}
