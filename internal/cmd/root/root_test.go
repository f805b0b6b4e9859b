package root

import (
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/cmdutil"
)

func execute(args ...string) (string, error) {
	io, out, _ := cmdutil.Test()
	f := &cmdutil.Factory{IO: io}
	cmd := NewCmd(f)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"plan", "extra-arg"},
		{"plan", "--no-such-flag"},
		{"render", "--out"},
		{"cost", "forecast", "--format", "pdf"},
	} {
		_, err := execute(args...)
		if code := cmdutil.ExitCode(err); code != cmdutil.ExitUsage {
			t.Errorf("%v: exit %d (%v), want 2", args, code, err)
		}
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	io, _, _ := cmdutil.Test()
	cmd := NewCmd(&cmdutil.Factory{IO: io})
	var walk func(c interface {
		Name() string
	})
	_ = walk
	for _, c := range cmd.Commands() {
		if c.Short == "" {
			t.Errorf("%s has no short help", c.Name())
		}
		if c.Name() != "help" && c.Name() != "completion" && c.Long == "" && len(c.Commands()) == 0 {
			t.Errorf("%s has no long help", c.Name())
		}
	}
	out, err := execute("--help")
	if err != nil || !strings.Contains(out, "--stack") && !strings.Contains(out, "render") {
		t.Errorf("help: %v\n%s", err, out)
	}
}
