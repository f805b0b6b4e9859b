package report

import (
	"time"

	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/stack"
)

// budgets sets the budgets the Workers enforce on the usage, to price the
// period's spend against them, and returns a note when the period is not
// one calendar month.
func budgets(u *cost.Usage, cfg *stack.Config, since, until time.Time) []string {
	u.StackBudgetUSD = cfg.MonthlyBudgetUSD
	for _, sp := range cfg.Products {
		if sp.Settings.MonthlyBudgetUSD > 0 {
			if u.Budgets == nil {
				u.Budgets = map[string]float64{}
			}
			u.Budgets[sp.Name] = sp.Settings.MonthlyBudgetUSD
		}
	}
	if len(u.Budgets) == 0 && u.StackBudgetUSD == 0 {
		return nil
	}
	if since.Day() != 1 || until.AddDate(0, 0, 1).Day() != 1 || since.Month() != until.Month() {
		return []string{"Budgets are per calendar month (UTC) and this period is not one: spend against budget compares the period's spend with one month's budget."}
	}
	return nil
}
