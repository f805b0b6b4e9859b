package cost

import (
	"fmt"
	"math"
	"slices"
)

// Diff compares two forecasts of one stack: the base (a git revision, or
// other files) and the head (the working tree), per product and in total,
// a month each.
type Diff struct {
	Stack string `json:"stack,omitempty"`
	// Base and Head say where each side was read ("git main", "working tree")
	// and BaseProfile and HeadProfile which usage profile each priced.
	Base        string `json:"base"`
	Head        string `json:"head"`
	BaseProfile string `json:"base_profile"`
	HeadProfile string `json:"head_profile"`
	Plan        string `json:"plan"`
	Days        int    `json:"days"`
	Prices      string `json:"prices"`

	TotalUSD Change `json:"total_usd"`
	InfraUSD Change `json:"infra_usd"`
	AIUSD    Change `json:"ai_usd"`
	// Products are the products of either side, head's order first.
	Products []ProductDiff `json:"products"`
	// Capacity is the stack's free-tier capacity on each side (free plan).
	Capacity *CapacityDiff `json:"capacity,omitempty"`
	// WarningsAdded are the head's warnings the base does not have;
	// WarningsRemoved the reverse.
	WarningsAdded   []string     `json:"warnings_added"`
	WarningsRemoved []string     `json:"warnings_removed"`
	Budgets         []BudgetDiff `json:"budgets,omitempty"`
	// Summary says in one line what the change costs or saves a month.
	Summary string `json:"summary"`
}

// Change is an amount on each side and the difference (head - base).
type Change struct {
	Base  float64 `json:"base"`
	Head  float64 `json:"head"`
	Delta float64 `json:"delta"`
}

func change(base, head float64) Change { return Change{base, head, head - base} }

// Product states in a Diff.
const (
	Added     = "added"
	Removed   = "removed"
	Changed   = "changed"
	Unchanged = "unchanged"
)

// ProductDiff is one product's change.
type ProductDiff struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	// Pattern is the head's pattern (the base's for a removed product).
	Pattern    string        `json:"pattern"`
	BaseModels []string      `json:"base_models,omitempty"`
	HeadModels []string      `json:"head_models,omitempty"`
	Requests   Change        `json:"requests"`
	AIUSD      Change        `json:"ai_usd"`
	InfraUSD   Change        `json:"infra_usd"`
	TotalUSD   Change        `json:"total_usd"`
	Capacity   *CapacityDiff `json:"capacity,omitempty"`
}

// CapacityDiff is a free-tier capacity on each side: requests a day at $0,
// the headroom (that over the forecast's requests a day: the stack's grows
// in requests when a busy product joins, and shrinks in headroom), and the
// first limit (nil on a side without it).
type CapacityDiff struct {
	BaseFreePerDay float64        `json:"base_free_per_day"`
	HeadFreePerDay float64        `json:"head_free_per_day"`
	BaseScale      float64        `json:"base_scale"`
	HeadScale      float64        `json:"head_scale"`
	BaseLimit      *CapacityLimit `json:"base_limit,omitempty"`
	HeadLimit      *CapacityLimit `json:"head_limit,omitempty"`
}

// BudgetDiff is a budget against the forecast on each side; a zero budget
// is a side without it.
type BudgetDiff struct {
	Product        string `json:"product,omitempty"`
	BudgetUSD      Change `json:"budget_usd"`
	SpendUSD       Change `json:"spend_usd"`
	BaseRunsOutDay int    `json:"base_runs_out_day,omitempty"`
	HeadRunsOutDay int    `json:"head_runs_out_day,omitempty"`
}

// Compare builds the diff of two forecasts priced on one plan.
func Compare(base, head *Report) *Diff {
	d := &Diff{Plan: head.Plan, Days: head.Days, Prices: head.Prices, BaseProfile: base.Source, HeadProfile: head.Source,
		TotalUSD: change(base.TotalUSD, head.TotalUSD), InfraUSD: change(base.InfraUSD, head.InfraUSD), AIUSD: change(base.AIUSD, head.AIUSD)}
	for _, hp := range head.Products {
		d.Products = append(d.Products, productDiff(base, head, productOf(base, hp.Name), &hp))
	}
	for _, bp := range base.Products {
		if productOf(head, bp.Name) == nil {
			d.Products = append(d.Products, productDiff(base, head, &bp, nil))
		}
	}
	d.Capacity = capacityDiff(capacityFor(base, ""), capacityFor(head, ""))
	d.WarningsAdded, d.WarningsRemoved = minus(head.Warnings, base.Warnings), minus(base.Warnings, head.Warnings)
	d.Budgets = budgetDiffs(base, head)
	d.Summary = diffSummary(d)
	return d
}

func productDiff(base, head *Report, bp, hp *ProductReport) ProductDiff {
	var b, h ProductReport
	pd := ProductDiff{Status: Changed}
	switch {
	case bp == nil:
		h, pd.Status = *hp, Added
	case hp == nil:
		b, pd.Status = *bp, Removed
	default:
		b, h = *bp, *hp
	}
	pd.Name, pd.Pattern = h.Name, h.Pattern
	if hp == nil {
		pd.Name, pd.Pattern = b.Name, b.Pattern
	}
	pd.BaseModels, pd.HeadModels = b.Models, h.Models
	pd.Requests = change(b.Requests, h.Requests)
	pd.AIUSD, pd.InfraUSD, pd.TotalUSD = change(b.AIUSD, h.AIUSD), change(b.InfraUSD, h.InfraUSD), change(b.TotalUSD, h.TotalUSD)
	pd.Capacity = capacityDiff(capacityFor(base, pd.Name), capacityFor(head, pd.Name))
	if pd.Status == Changed && same(pd.AIUSD) && same(pd.InfraUSD) && same(pd.Requests) && slices.Equal(b.Models, h.Models) && capacitySame(pd.Capacity) {
		pd.Status = Unchanged
	}
	return pd
}

func productOf(r *Report, name string) *ProductReport {
	for i := range r.Products {
		if r.Products[i].Name == name {
			return &r.Products[i]
		}
	}
	return nil
}

func capacityFor(r *Report, product string) *Capacity {
	for i := range r.Capacity {
		if r.Capacity[i].Product == product {
			return &r.Capacity[i]
		}
	}
	return nil
}

func capacityDiff(b, h *Capacity) *CapacityDiff {
	if b == nil && h == nil {
		return nil
	}
	c := &CapacityDiff{}
	if b != nil {
		c.BaseFreePerDay, c.BaseScale, c.BaseLimit = b.FreePerDay, b.Scale, b.Limit
	}
	if h != nil {
		c.HeadFreePerDay, c.HeadScale, c.HeadLimit = h.FreePerDay, h.Scale, h.Limit
	}
	return c
}

func capacitySame(c *CapacityDiff) bool {
	if c == nil {
		return true
	}
	sameLimit := (c.BaseLimit == nil) == (c.HeadLimit == nil) && (c.BaseLimit == nil || *c.BaseLimit == *c.HeadLimit)
	return sameLimit && math.Abs(c.HeadFreePerDay-c.BaseFreePerDay) < 0.5 && scaleText(c.BaseScale) == scaleText(c.HeadScale)
}

// same says a change is below what the reports print (a hundredth of a cent).
func same(c Change) bool { return math.Abs(c.Delta) < 1e-4 }

func minus(a, b []string) []string {
	out := []string{}
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func budgetDiffs(base, head *Report) []BudgetDiff {
	var out []BudgetDiff
	find := func(r *Report, product string) Budget {
		for _, b := range r.Budgets {
			if b.Product == product {
				return b
			}
		}
		return Budget{}
	}
	var names []string
	for _, r := range []*Report{head, base} {
		for _, b := range r.Budgets {
			if !slices.Contains(names, b.Product) {
				names = append(names, b.Product)
			}
		}
	}
	for _, name := range names {
		b, h := find(base, name), find(head, name)
		out = append(out, BudgetDiff{Product: name, BudgetUSD: change(b.BudgetUSD, h.BudgetUSD), SpendUSD: change(b.SpendUSD, h.SpendUSD),
			BaseRunsOutDay: b.RunsOutDay, HeadRunsOutDay: h.RunsOutDay})
	}
	return out
}

// diffSummary is the one line: what the change costs or saves a month.
func diffSummary(d *Diff) string {
	t := d.TotalUSD
	on := planName(d.Plan)
	var s string
	switch {
	case same(t):
		s = fmt.Sprintf("This change costs nothing more or less a month: %s on %s", usd(t.Head), on)
	case t.Delta > 0:
		s = fmt.Sprintf("This change costs %s more a month: %s to %s on %s", usd(t.Delta), usd(t.Base), usd(t.Head), on)
	default:
		s = fmt.Sprintf("This change saves %s a month: %s to %s on %s", usd(-t.Delta), usd(t.Base), usd(t.Head), on)
	}
	if c := d.Capacity; c != nil && !capacitySame(c) {
		s += fmt.Sprintf("; the stack's free-tier headroom goes from %s to %s its traffic", scaleText(c.BaseScale), scaleText(c.HeadScale))
	}
	return s + "."
}
