package plan

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/stack/stacktest"
)

// A stack config with two typos: `zerocost plan` exits 2 and names both, each
// with its full path and the key that was meant, and prints no plan.
func TestConfigErrorsAllAtOnce(t *testing.T) {
	dir := stacktest.Project(t, "demo", `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:products:
    - name: relay
      pattern: edge-cache
      sytemPrompt: Answer in one sentence.
      settings: {cacheTtlSecond: 600}
`, nil)
	io, out, _ := cmdutil.Test()
	cmd := NewCmd(&cmdutil.Factory{IO: io, ProjectDir: dir}, nil)
	cmd.SilenceUsage = true // as the root command does
	err := cmdtest.Execute(cmd, io)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("exit %d (%v), want %d", cmdutil.ExitCode(err), err, cmdutil.ExitUsage)
	}
	want := filepath.Join(dir, "Pulumi.demo.yaml") + `:
zerocost:products[0].settings.cacheTtlSecond: unknown field; did you mean cacheTtlSeconds?
zerocost:products[0].sytemPrompt: unknown field; did you mean systemPrompt?`
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if strings.TrimSpace(out.String()) != "" {
		t.Errorf("printed a plan: %s", out)
	}
}
