package cost

import (
	"fmt"
	"math"
	"sort"
)

// Budget is a monthly model budget (issue "Spend guard") and the period's
// model spend against it. The Workers refuse model calls once a month's
// spend reaches the budget; these figures say whether and when that
// happens.
type Budget struct {
	// Product is the product's name; "" for the stack-wide cap
	// (zerocost:monthlyBudgetUsd), which caps the products' sum.
	Product   string  `json:"product,omitempty"`
	BudgetUSD float64 `json:"budget_usd"`
	// SpendUSD is the period's model cost (a forecast: the month's).
	SpendUSD float64 `json:"spend_usd"`
	// Used is SpendUSD / BudgetUSD.
	Used float64 `json:"used"`
	// RunsOutDay is the day of the month (1-based, UTC) on which a forecast's
	// even pace reaches the budget; 0 when the budget lasts the month or for a
	// measured report.
	RunsOutDay int `json:"runs_out_day,omitempty"`
}

// budgets compares each budgeted product's model cost, and the products'
// sum, with their budgets. Forecasts spread the month evenly over its days.
func budgets(u *Usage, r *Report) ([]Budget, []string) {
	var out []Budget
	var warn []string
	spend := map[string]float64{}
	total := 0.0
	for _, pr := range r.Products {
		spend[pr.Name] = pr.AIUSD
		total += pr.AIUSD
	}
	names := make([]string, 0, len(u.Budgets))
	for name := range u.Budgets {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return productIndex(r, names[i]) < productIndex(r, names[j]) })
	check := func(name string, limit, s float64) {
		b := Budget{Product: name, BudgetUSD: limit, SpendUSD: s}
		if limit > 0 {
			b.Used = s / limit
		}
		who := name + "'s"
		if name == "" {
			who = "the stack's"
		}
		if u.Dates == nil {
			// A forecast: an even pace of s/Days a day reaches the budget
			// during day ceil(limit / perDay).
			if perDay := s / float64(u.Days); s > limit*(1+eps) && perDay > 0 {
				b.RunsOutDay = int(math.Ceil(limit/perDay - eps))
				b.RunsOutDay = max(1, min(b.RunsOutDay, u.Days))
				warn = append(warn, fmt.Sprintf("Budget: %s model cost is $%s a month against a budget of $%s: at this pace the budget runs out on day %d of each month (UTC); after it the Workers refuse model calls (429 budget_exhausted; the pipeline parks its jobs) until the 1st. Cache hits still answer.",
					who, money(s), money(limit), b.RunsOutDay))
			}
		} else if s >= limit*(1-eps) {
			warn = append(warn, fmt.Sprintf("Budget: %s model cost reached its budget of $%s in %s..%s ($%s): model calls were refused after it until the month ended.",
				who, money(limit), u.Dates[0], u.Dates[len(u.Dates)-1], money(s)))
		}
		out = append(out, b)
	}
	for _, name := range names {
		check(name, u.Budgets[name], spend[name])
	}
	if u.StackBudgetUSD > 0 {
		check("", u.StackBudgetUSD, total)
	}
	return out, warn
}

func productIndex(r *Report, name string) int {
	for i, pr := range r.Products {
		if pr.Name == name {
			return i
		}
	}
	return len(r.Products)
}

// budgetRows are the budgets as table rows: product, budget, spend, used,
// runs out.
func budgetRows(r *Report) [][]string {
	var rows [][]string
	for _, b := range r.Budgets {
		name := b.Product
		if name == "" {
			name = "stack (all products)"
		}
		out := "lasts the month"
		switch {
		case b.RunsOutDay > 0:
			out = fmt.Sprintf("day %d", b.RunsOutDay)
		case r.Kind == "report" && b.Used >= 1-eps:
			out = "reached"
		case r.Kind == "report":
			out = "not reached"
		}
		rows = append(rows, []string{name, "$" + money(b.BudgetUSD), "$" + money(b.SpendUSD), pct(b.SpendUSD, b.BudgetUSD), out})
	}
	return rows
}

var budgetHeader = []string{"PRODUCT", "BUDGET", "MODEL SPEND", "USED", "RUNS OUT"}
