package resume

import (
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
)

func TestFlags(t *testing.T) {
	o, err := cmdtest.Parse(NewCmd, "--product", "mail", "--local", "--limit", "3")
	if err != nil || o.Product != "mail" || !o.Local || o.Limit != 3 {
		t.Errorf("%+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"--product", "mail", "--local", "--outputs", "o.json"},
		{"--product", "mail", "--limit", "-1"},
		{},
	} {
		if _, err := cmdtest.Parse(NewCmd, args...); err == nil || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%v: %v", args, err)
		}
	}
	if _, err := cmdtest.Parse(NewCmd); err == nil || !strings.Contains(err.Error(), "whose jobs to resume") {
		t.Errorf("missing --product: %v", err)
	}
}
