package report

import (
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
)

func TestReportFlags(t *testing.T) {
	o, err := cmdtest.Parse(NewCmd, "--since", "2026-11-01", "--until", "2026-11-30", "--outputs", "o.json")
	if err != nil {
		t.Fatal(err)
	}
	if o.Stack != "demo" || o.Plan != "free" || o.Outputs != "o.json" || o.APIURL != "" ||
		!o.Since.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) || !o.Until.Equal(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("options %+v", o)
	}
	o, err = cmdtest.Parse(NewCmd, "--stack", "prod", "--since", "2026-11-01", "--until", "2026-11-01", "--outputs", "o.json", "--api-url", "http://127.0.0.1:1", "--plan", "paid", "--format", "json")
	if err != nil || o.Stack != "prod" || o.APIURL != "http://127.0.0.1:1" || o.Plan != "paid" || o.Format != "json" {
		t.Errorf("flags: %+v %v", o, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--until", "2026-11-30", "--outputs", "o"}, "--since is required"},
		{[]string{"--since", "2026-11-01", "--outputs", "o"}, "--until is required"},
		{[]string{"--since", "1 Nov", "--until", "2026-11-30", "--outputs", "o"}, `--since "1 Nov" is not a date`},
		{[]string{"--since", "2026-11-30", "--until", "2026-11-01", "--outputs", "o"}, "--until 2026-11-01 is before --since 2026-11-30"},
		{[]string{"--since", "2026-10-01", "--until", "2026-11-30", "--outputs", "o"}, "is 61 days: a report covers at most 31"},
		{[]string{"--since", "2026-11-01", "--until", "2026-11-30", "--outputs", "o", "--format", "csv"}, `--format "csv"`},
	} {
		_, err := cmdtest.Parse(NewCmd, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%v: got %v (exit %d), want %q", tc.args, err, cmdutil.ExitCode(err), tc.want)
		}
	}
}
