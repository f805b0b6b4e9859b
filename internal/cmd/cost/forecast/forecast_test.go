package forecast

import (
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
)

func TestForecastFlags(t *testing.T) {
	o, err := cmdtest.Parse(NewCmd, "--usage", "u.toml")
	if err != nil {
		t.Fatal(err)
	}
	if o.Usage != "u.toml" || o.Format != "table" || o.Plan != "" || o.Prices != "" {
		t.Errorf("defaults: %+v", o)
	}
	o, err = cmdtest.Parse(NewCmd, "--usage", "u.toml", "--plan", "paid", "--format", "html", "--prices", "p.toml")
	if err != nil || o.Plan != "paid" || o.Format != "html" || o.Prices != "p.toml" {
		t.Errorf("flags: %+v %v", o, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--usage or --stack is required"},
		{[]string{"--usage", "u.toml", "--format", "yaml"}, `--format "yaml"`},
		{[]string{"--usage", "u.toml", "--plan", "pro"}, `--plan "pro"`},
		{[]string{"--usage", "u.toml", "extra"}, "unknown command \"extra\""},
	} {
		_, err := cmdtest.Parse(NewCmd, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
		if err != nil && strings.HasPrefix(tc.want, "--") && cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%v: exit code %d", tc.args, cmdutil.ExitCode(err))
		}
	}
}
