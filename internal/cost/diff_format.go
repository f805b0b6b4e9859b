package cost

import (
	"fmt"
	"io"
	"strings"
)

// diffWriters are WriteDiff's formats, the default first.
var diffWriters = []writer[Diff]{{"table", writeDiffTable}, {"json", writeDiffJSON}, {"markdown", writeDiffMarkdown}}

// DiffFormats are the formats WriteDiff accepts.
var DiffFormats = formatNames(diffWriters)

// WriteDiff prints a diff as a table, JSON or Markdown.
func WriteDiff(w io.Writer, d *Diff, format string) error {
	return writeAs(w, d, format, diffWriters)
}

func writeDiffJSON(w io.Writer, d *Diff) error {
	c := *d
	r := func(x Change, n int) Change { return Change{round(x.Base, n), round(x.Head, n), round(x.Delta, n)} }
	c.TotalUSD, c.InfraUSD, c.AIUSD = r(d.TotalUSD, 6), r(d.InfraUSD, 6), r(d.AIUSD, 6)
	c.Products = make([]ProductDiff, len(d.Products))
	for i, p := range d.Products {
		p.Requests, p.AIUSD, p.InfraUSD, p.TotalUSD = r(p.Requests, 3), r(p.AIUSD, 6), r(p.InfraUSD, 6), r(p.TotalUSD, 6)
		p.Capacity = roundCapacity(p.Capacity)
		c.Products[i] = p
	}
	c.Capacity = roundCapacity(d.Capacity)
	c.Budgets = make([]BudgetDiff, len(d.Budgets))
	for i, b := range d.Budgets {
		b.BudgetUSD, b.SpendUSD = r(b.BudgetUSD, 6), r(b.SpendUSD, 6)
		c.Budgets[i] = b
	}
	return WriteIndentedJSON(w, &c)
}

func roundCapacity(c *CapacityDiff) *CapacityDiff {
	if c == nil {
		return nil
	}
	o := *c
	o.BaseFreePerDay, o.HeadFreePerDay = round(c.BaseFreePerDay, 3), round(c.HeadFreePerDay, 3)
	return &o
}

func diffTitle(d *Diff) string {
	stack := ""
	if d.Stack != "" {
		stack = " of stack " + d.Stack
	}
	return fmt.Sprintf("Cost diff%s: %s a month, %s to %s", stack, signedUSD(d.TotalUSD.Delta), d.Base, d.Head)
}

// pricedLine says what was priced: the profiles, the plan, the prices.
func pricedLine(d *Diff) string {
	prof := d.HeadProfile
	if d.BaseProfile != d.HeadProfile {
		prof = d.BaseProfile + " (base) and " + d.HeadProfile + " (head)"
	}
	return fmt.Sprintf("Priced the usage profile %s on %s, %d days, prices %s.", prof, planName(d.Plan), d.Days, d.Prices)
}

func signedUSD(x float64) string {
	switch {
	case same(Change{Delta: x}):
		return "$0.00"
	case x > 0:
		return "+" + usd(x)
	}
	return "-" + usd(-x)
}

// usdChange is "$1.00" when a change is none, else "$1.00 → $2.00 (+$1.00)".
func usdChange(c Change) string {
	if same(c) {
		return usd(c.Head)
	}
	return fmt.Sprintf("%s → %s (%s)", usd(c.Base), usd(c.Head), signedUSD(c.Delta))
}

// whatChanged names a product's change: added, removed, its model, or its
// traffic.
func whatChanged(p ProductDiff) string {
	var parts []string
	switch p.Status {
	case Added, Removed:
		return p.Status
	case Unchanged:
		return "-"
	}
	if b, h := strings.Join(p.BaseModels, ", "), strings.Join(p.HeadModels, ", "); b != h {
		parts = append(parts, "model "+b+" → "+h)
	}
	if !same(p.Requests) {
		parts = append(parts, fmt.Sprintf("requests %s → %s", count(p.Requests.Base), count(p.Requests.Head)))
	}
	if len(parts) == 0 {
		parts = append(parts, "settings")
	}
	return strings.Join(parts, "; ")
}

// capacityChange is a capacity's two sides, "80,000 a day (40x) → 40,000 a
// day (20x)", and its first limit, both sides when it changed.
func capacityChange(c *CapacityDiff) (string, string) {
	if c == nil {
		return "-", "-"
	}
	side := func(free, scale float64, l *CapacityLimit) string {
		if l == nil {
			return "none"
		}
		return count(free) + " a day (" + scaleText(scale) + ")"
	}
	amount := side(c.HeadFreePerDay, c.HeadScale, c.HeadLimit)
	if !capacitySame(c) {
		amount = side(c.BaseFreePerDay, c.BaseScale, c.BaseLimit) + " → " + amount
	}
	text := func(l *CapacityLimit) string {
		if l == nil {
			return "none"
		}
		return limitText(*l)
	}
	limit := text(c.HeadLimit)
	if c.BaseLimit != nil && (c.HeadLimit == nil || *c.BaseLimit != *c.HeadLimit) {
		limit = text(c.BaseLimit) + " → " + limit
	}
	return amount, limit
}

func diffRows(d *Diff) [][]string {
	var rows [][]string
	for _, p := range d.Products {
		amount, limit := capacityChange(p.Capacity)
		rows = append(rows, []string{p.Name, whatChanged(p), usdChange(p.AIUSD), usdChange(p.InfraUSD), usdChange(p.TotalUSD), amount, limit})
	}
	amount, limit := capacityChange(d.Capacity)
	return append(rows, []string{"TOTAL", "", usdChange(d.AIUSD), usdChange(d.InfraUSD), usdChange(d.TotalUSD), amount, limit})
}

var diffHeader = []string{"PRODUCT", "CHANGE", "MODEL / MONTH", "INFRA / MONTH", "TOTAL / MONTH", "FREE-TIER CAPACITY (HEADROOM)", "FIRST LIMIT"}

func budgetDiffRows(d *Diff) [][]string {
	var rows [][]string
	day := func(n int, budget float64) string {
		switch {
		case budget == 0:
			return "none"
		case n > 0:
			return fmt.Sprintf("day %d", n)
		}
		return "lasts the month"
	}
	for _, b := range d.Budgets {
		name := b.Product
		if name == "" {
			name = "stack (all products)"
		}
		out := day(b.HeadRunsOutDay, b.BudgetUSD.Head)
		if base := day(b.BaseRunsOutDay, b.BudgetUSD.Base); base != out {
			out = base + " → " + out
		}
		used := pct(b.SpendUSD.Head, b.BudgetUSD.Head)
		if b.BudgetUSD.Head == 0 {
			used = "-"
		}
		rows = append(rows, []string{name, usdChange(b.BudgetUSD), usdChange(b.SpendUSD), used, out})
	}
	return rows
}

func writeDiffTable(w io.Writer, d *Diff) error {
	fmt.Fprintf(w, "%s\n\n%s\n%s\n\n", diffTitle(d), d.Summary, pricedLine(d))
	t := &textTable{right: []bool{false, false, true, true, true, true, false}}
	t.add(diffHeader...)
	for _, row := range diffRows(d) {
		t.add(row...)
	}
	t.write(w, "")
	writeSection(w, "Model budgets against the forecast", budgetHeader, budgetDiffRows(d))
	for _, l := range warningLists(d) {
		fmt.Fprintf(w, "\n%s\n", l.title)
		for _, s := range l.items {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
	return nil
}

type warningList struct {
	title string
	items []string
}

func warningLists(d *Diff) []warningList {
	var out []warningList
	if len(d.WarningsAdded) > 0 {
		out = append(out, warningList{"Warnings added (" + planName(d.Plan) + ")", d.WarningsAdded})
	}
	if len(d.WarningsRemoved) > 0 {
		out = append(out, warningList{"Warnings removed", d.WarningsRemoved})
	}
	return out
}

func writeDiffMarkdown(w io.Writer, d *Diff) error {
	fmt.Fprintf(w, "### %s\n\n**%s**\n\n%s\n\n", mdEscape(diffTitle(d)), mdEscape(d.Summary), mdEscape(pricedLine(d)))
	mdTable(w, []string{"Product", "Change", "Model / month", "Infra / month", "Total / month", "Free-tier capacity (headroom)", "First limit"}, "|---|---|--:|--:|--:|--:|---|", diffRows(d))
	if rows := budgetDiffRows(d); len(rows) > 0 {
		fmt.Fprintf(w, "#### Model budgets against the forecast\n\n")
		mdTable(w, []string{"Product", "Budget", "Model spend", "Used", "Runs out"}, "|---|--:|--:|--:|---|", rows)
	}
	for _, l := range warningLists(d) {
		fmt.Fprintf(w, "#### %s\n\n", l.title)
		for _, s := range l.items {
			fmt.Fprintf(w, "- %s\n", mdEscape(s))
		}
		fmt.Fprintln(w)
	}
	return nil
}

func mdTable(w io.Writer, header []string, align string, rows [][]string) {
	fmt.Fprintf(w, "| %s |\n%s\n", strings.Join(header, " | "), align)
	for i, row := range rows {
		cells := mdEscapeAll(row)
		if i == len(rows)-1 && row[0] == "TOTAL" {
			for j, c := range cells {
				if c != "" {
					cells[j] = "**" + c + "**"
				}
			}
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Fprintln(w)
}
