package list

import (
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/contract"
)

func TestFlags(t *testing.T) {
	o, err := cmdtest.Parse(NewCmd, "--product", "mail", "--stack", "prod", "--limit", "7", "--json")
	if err != nil || o.Product != "mail" || o.Stack != "prod" || o.Limit != 7 || !o.JSON || o.Status != string(contract.JobBudgetExhausted) {
		t.Errorf("%+v, %v", o, err)
	}
	if _, err := cmdtest.Parse(NewCmd); err == nil || cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "--product is required: the async-pipeline product whose jobs to list") {
		t.Errorf("missing --product: %v", err)
	}
	if _, err := cmdtest.Parse(NewCmd, "--product", "mail", "--local", "--outputs", "o.json"); err == nil || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Errorf("--local with --outputs: %v", err)
	}
}
