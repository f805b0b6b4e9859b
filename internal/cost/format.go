package cost

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// reportWriters are Write's formats, the default first.
var reportWriters = []writer[Report]{{"table", WriteTable}, {"json", WriteJSON}, {"markdown", WriteMarkdown}, {"html", WriteHTML}}

// Formats Write accepts.
var Formats = formatNames(reportWriters)

// Write prints the report in a format: table, json, markdown or html.
func Write(w io.Writer, r *Report, format string) error {
	return writeAs(w, r, format, reportWriters)
}

// writer is one output format of a T.
type writer[T any] struct {
	name  string
	write func(io.Writer, *T) error
}

func formatNames[T any](ws []writer[T]) []string {
	names := make([]string, len(ws))
	for i, x := range ws {
		names[i] = x.name
	}
	return names
}

// writeAs prints x in the named format of ws ("": the first); another name
// is an error that lists them.
func writeAs[T any](w io.Writer, x *T, format string, ws []writer[T]) error {
	if format == "" {
		format = ws[0].name
	}
	for _, f := range ws {
		if f.name == format {
			return f.write(w, x)
		}
	}
	return fmt.Errorf("unknown format %q (use %s)", format, strings.Join(formatNames(ws), ", "))
}

// WriteIndentedJSON prints v as JSON indented by two spaces.
func WriteIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteJSON prints the report as indented JSON, amounts rounded to 6 decimals
// and quantities to 3, so that the output is stable.
func WriteJSON(w io.Writer, r *Report) error {
	c := *r
	c.TotalUSD, c.InfraUSD, c.AIUSD, c.CacheSavingsUSD = round(c.TotalUSD, 6), round(c.InfraUSD, 6), round(c.AIUSD, 6), round(c.CacheSavingsUSD, 6)
	c.AccountItems = roundItems(r.AccountItems)
	c.Products = make([]ProductReport, len(r.Products))
	for i, p := range r.Products {
		p.InfraUSD, p.AIUSD, p.TotalUSD, p.CacheSavingsUSD = round(p.InfraUSD, 6), round(p.AIUSD, 6), round(p.TotalUSD, 6), round(p.CacheSavingsUSD, 6)
		p.Requests, p.ModelCalls = round(p.Requests, 3), round(p.ModelCalls, 3)
		if p.CacheHitRate != nil {
			h := round(*p.CacheHitRate, 4)
			p.CacheHitRate = &h
		}
		p.Items = roundItems(p.Items)
		c.Products[i] = p
	}
	c.FreeLimits = make([]LimitUse, len(r.FreeLimits))
	for i, l := range r.FreeLimits {
		l.PeakDay, l.Use = round(l.PeakDay, 3), round(l.Use, 4)
		c.FreeLimits[i] = l
	}
	if len(c.FreeLimits) == 0 {
		c.FreeLimits = nil
	}
	c.Capacity = make([]Capacity, len(r.Capacity))
	for i, cp := range r.Capacity {
		cp.PerDay, cp.FreePerDay, cp.Scale = round(cp.PerDay, 3), round(cp.FreePerDay, 3), round(cp.Scale, 4)
		c.Capacity[i] = cp
	}
	if len(c.Capacity) == 0 {
		c.Capacity = nil
	}
	c.Levers = make([]Lever, len(r.Levers))
	for i, l := range r.Levers {
		l.SavingUSD = round(l.SavingUSD, 6)
		c.Levers[i] = l
	}
	if r.OtherPlan != nil {
		o := *r.OtherPlan
		o.TotalUSD, o.InfraUSD, o.AIUSD = round(o.TotalUSD, 6), round(o.InfraUSD, 6), round(o.AIUSD, 6)
		c.OtherPlan = &o
	}
	return WriteIndentedJSON(w, &c)
}

func roundItems(items []Item) []Item {
	out := make([]Item, len(items))
	for i, it := range items {
		prec := 3
		if it.Metric == Storage {
			prec = 9 // GB-months of small stores
		}
		it.Quantity, it.Billable = round(it.Quantity, prec), round(it.Billable, prec)
		it.UnitUSD, it.USD = round(it.UnitUSD, 12), round(it.USD, 6)
		out[i] = it
	}
	return out
}

// WriteTable prints the report for a terminal.
func WriteTable(w io.Writer, r *Report) error {
	fmt.Fprintln(w, title(r))
	fmt.Fprintln(w)
	t := &textTable{right: []bool{false, false, true, true, true, true, true}}
	t.add("PRODUCT", "PATTERN", "REQUESTS", "MODEL CALLS", "INFRA", "MODEL", "TOTAL")
	var reqs, calls float64
	for _, p := range r.Products {
		t.add(p.Name, p.Pattern, count(p.Requests), count(p.ModelCalls), usd(p.InfraUSD), usd(p.AIUSD), usd(p.TotalUSD))
		reqs += p.Requests
		calls += p.ModelCalls
	}
	for _, it := range r.AccountItems {
		t.add("account", metricNames[it.Metric], "", "", usd(it.USD), "", usd(it.USD))
	}
	t.add("TOTAL", "", count(reqs), count(calls), usd(r.InfraUSD), usd(r.AIUSD), usd(r.TotalUSD))
	t.write(w, "")
	fmt.Fprintln(w)
	for _, line := range summary(r) {
		fmt.Fprintln(w, line)
	}
	for _, p := range r.Products {
		fmt.Fprintf(w, "\n%s (%s, %s)\n", p.Name, p.Pattern, modelList(p))
		if len(p.Items) == 0 {
			fmt.Fprintln(w, "  no usage")
			continue
		}
		t := &textTable{right: []bool{false, false, true, true, true, true}}
		t.add("SERVICE", "METRIC", "QUANTITY", "BILLABLE", "PRICE", "COST")
		for _, it := range p.Items {
			t.add(serviceNames[it.Service], itemMetric(it), quantity(it.Quantity, it.Unit), quantity(it.Billable, it.Unit), unitPrice(it), usd(it.USD))
		}
		t.write(w, "  ")
	}
	writeSection(w, "Free-tier capacity (requests a day at $0 on Workers Free)", capacityHeader, capacityRows(r))
	writeSection(w, "Model budgets (the Workers refuse model calls once a month's spend reaches one)", budgetHeader, budgetRows(r))
	if len(r.Warnings) > 0 {
		fmt.Fprintf(w, "\nWarnings (%s)\n", planName(r.Plan))
		for _, s := range r.Warnings {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
	if len(r.Levers) > 0 {
		fmt.Fprintln(w, "\nLevers")
		for _, l := range r.Levers {
			fmt.Fprintf(w, "  - %s\n", leverLine(l))
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "\nNotes")
		for _, s := range r.Notes {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
	return nil
}

// textTable lines up columns, numbers to the right.
type textTable struct {
	right []bool
	rows  [][]string
}

func (t *textTable) add(cells ...string) { t.rows = append(t.rows, cells) }

// writeSection prints a titled, indented table of a header and rows whose
// first and last columns are text and the others numbers; no rows, nothing.
func writeSection(w io.Writer, title string, header []string, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n", title)
	t := &textTable{right: make([]bool, len(header))}
	for i := 1; i < len(header)-1; i++ {
		t.right[i] = true
	}
	t.add(header...)
	for _, row := range rows {
		t.add(row...)
	}
	t.write(w, "  ")
}

func (t *textTable) write(w io.Writer, indent string) {
	width := make([]int, len(t.right))
	for _, row := range t.rows {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, row := range t.rows {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if t.right[i] {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// WriteMarkdown prints the report as Markdown, ready for a pull-request comment.
func WriteMarkdown(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "### %s\n\n", title(r))
	fmt.Fprintf(w, "| Product | Pattern | Requests | Model calls | Infra | Model | Total |\n|---|---|--:|--:|--:|--:|--:|\n")
	var reqs, calls float64
	for _, p := range r.Products {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(p.Name), p.Pattern, count(p.Requests), count(p.ModelCalls), usd(p.InfraUSD), usd(p.AIUSD), usd(p.TotalUSD))
		reqs += p.Requests
		calls += p.ModelCalls
	}
	for _, it := range r.AccountItems {
		fmt.Fprintf(w, "| account | %s | | | %s | | %s |\n", metricNames[it.Metric], usd(it.USD), usd(it.USD))
	}
	fmt.Fprintf(w, "| **Total** | | **%s** | **%s** | **%s** | **%s** | **%s** |\n\n", count(reqs), count(calls), usd(r.InfraUSD), usd(r.AIUSD), usd(r.TotalUSD))
	for _, line := range summary(r) {
		fmt.Fprintf(w, "%s\n\n", mdEscape(line))
	}
	if rows := capacityRows(r); len(rows) > 0 {
		fmt.Fprintf(w, "#### Free-tier capacity (requests a day at $0 on Workers Free)\n\n| Product | Today | At $0 | Headroom | First limit | Next limit |\n|---|--:|--:|--:|---|---|\n")
		for _, row := range rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(mdEscapeAll(row), " | "))
		}
		fmt.Fprintln(w)
	}
	if rows := budgetRows(r); len(rows) > 0 {
		fmt.Fprintf(w, "#### Model budgets\n\n| Product | Budget | Model spend | Used | Runs out |\n|---|--:|--:|--:|---|\n")
		for _, row := range rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(mdEscapeAll(row), " | "))
		}
		fmt.Fprintln(w)
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(w, "#### Warnings (%s)\n\n", planName(r.Plan))
		for _, s := range r.Warnings {
			fmt.Fprintf(w, "- %s\n", mdEscape(s))
		}
		fmt.Fprintln(w)
	}
	if len(r.Levers) > 0 {
		fmt.Fprintf(w, "#### Levers\n\n")
		for _, l := range r.Levers {
			fmt.Fprintf(w, "- %s\n", mdEscape(leverLine(l)))
		}
		fmt.Fprintln(w)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "#### Notes\n\n")
		for _, s := range r.Notes {
			fmt.Fprintf(w, "- %s\n", mdEscape(s))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "<details><summary>Line items</summary>\n\n")
	for _, p := range r.Products {
		fmt.Fprintf(w, "**%s** (%s, %s)\n\n", mdEscape(p.Name), p.Pattern, modelList(p))
		if len(p.Items) == 0 {
			fmt.Fprintf(w, "No usage.\n\n")
			continue
		}
		fmt.Fprintf(w, "| Service | Metric | Quantity | Billable | Price | Cost |\n|---|---|--:|--:|--:|--:|\n")
		for _, it := range p.Items {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", serviceNames[it.Service], itemMetric(it), quantity(it.Quantity, it.Unit), quantity(it.Billable, it.Unit), unitPrice(it), usd(it.USD))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "</details>\n\n<sub>zerocost cost %s, prices %s (every price's source page is in the price file).</sub>\n", r.Kind, r.Prices)
	return nil
}

func title(r *Report) string {
	what := "Forecast"
	if r.Kind == "report" {
		what = "Report"
	}
	period := fmt.Sprintf("%d days", r.Days)
	if r.Since != "" {
		period = fmt.Sprintf("%s to %s (%d days)", r.Since, r.Until, r.Days)
	}
	return fmt.Sprintf("%s for %s: %s on %s, %s, prices %s", what, r.Source, usd(r.TotalUSD), planName(r.Plan), period, r.Prices)
}

// summary is the lines under the totals: what infra and model cost, the cache
// savings and the other plan.
func summary(r *Report) []string {
	var out []string
	out = append(out, fmt.Sprintf("Infrastructure %s, model %s: the model is %s of the bill.", usd(r.InfraUSD), usd(r.AIUSD), pct(r.AIUSD, r.TotalUSD)))
	for _, p := range r.Products {
		if p.CacheHitRate != nil && p.Pattern == EdgeCache {
			out = append(out, fmt.Sprintf("Cache: %s answered %s of its requests from the cache, saving %s of model calls.", p.Name, pct(*p.CacheHitRate, 1), usd(p.CacheSavingsUSD)))
		}
	}
	if len(r.FreeLimits) > 0 {
		busiest := r.FreeLimits[0]
		for _, l := range r.FreeLimits[1:] {
			if l.Use > busiest.Use {
				busiest = l
			}
		}
		peak := "a day"
		if r.Kind == "report" {
			peak = "on the busiest day"
		}
		out = append(out, fmt.Sprintf("Closest Workers Free daily limit: %s, %s %s of %s (%s).",
			meterLabel(Meter{busiest.Service, busiest.Metric}), count(busiest.PeakDay), peak, count(busiest.LimitDay), trimZeros(round(busiest.Use*100, 1))+"%"))
		if len(r.FreeLimits) > 1 {
			out = append(out, limitsLine(r.FreeLimits))
		}
	}
	out = append(out, capacityLines(r)...)
	if o := r.OtherPlan; o != nil {
		out = append(out, fmt.Sprintf("On %s: %s (infrastructure %s, model %s).", planName(o.Plan), usd(o.TotalUSD), usd(o.InfraUSD), usd(o.AIUSD)))
	}
	return out
}

func modelList(p ProductReport) string {
	if len(p.Models) == 0 {
		return "no model calls"
	}
	return strings.Join(p.Models, ", ")
}

func leverLine(l Lever) string {
	name := map[string]string{"prompt_caching": "prompt caching", "batch_api": "Batch API"}[l.Lever]
	return fmt.Sprintf("%s, %s: %s", l.Product, name, l.Note)
}

// itemMetric names an item's metric, marking batch-billed tokens.
func itemMetric(it Item) string {
	if it.Mode == "batch" {
		return metricNames[it.Metric] + " (batch)"
	}
	return metricNames[it.Metric]
}

func planName(plan string) string {
	if plan == Paid {
		return "Workers Paid"
	}
	return "Workers Free"
}

func mdEscapeAll(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = mdEscape(c)
	}
	return out
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}

// round rounds x to n decimals.
func round(x float64, n int) float64 {
	p := math.Pow(10, float64(n))
	r := math.Round(x*p) / p
	if r == 0 {
		return 0 // no -0
	}
	return r
}

// trimZeros prints a number without trailing zeros.
func trimZeros(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// count prints a count with thousands separators: 1,234; fractions below 10
// keep one decimal.
func count(x float64) string {
	if x != 0 && math.Abs(x) < 10 && math.Abs(x-math.Round(x)) > 0.05 {
		return strconv.FormatFloat(round(x, 1), 'f', 1, 64)
	}
	return commas(strconv.FormatFloat(math.Round(x)+0, 'f', 0, 64))
}

func commas(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// money prints dollars without the sign: 2 decimals, 4 below a cent.
func money(x float64) string {
	if x != 0 && math.Abs(x) < 0.005 {
		return strconv.FormatFloat(round(x, 4), 'f', 4, 64)
	}
	s := strconv.FormatFloat(round(x, 2), 'f', 2, 64)
	i := strings.IndexByte(s, '.')
	return commas(s[:i]) + s[i:]
}

func usd(x float64) string { return "$" + money(x) }

func pct(part, whole float64) string {
	if whole == 0 {
		return "0%"
	}
	return trimZeros(round(part/whole*100, 0)) + "%"
}

// amount prints a quantity with its unit: counts with commas, GB-months of
// storage in GB, MB or KB.
func amount(x float64, unit string) string {
	if unit == "GB-month" {
		return bytesGB(x) + "-month"
	}
	return count(x) + " " + unit
}

// quantity prints a table cell: counts bare, storage with its unit.
func quantity(x float64, unit string) string {
	if unit == "GB-month" {
		return bytesGB(x) + "-mo"
	}
	return count(x)
}

func bytesGB(x float64) string {
	switch {
	case x == 0:
		return "0 GB"
	case x >= 1:
		return trimZeros(round(x, 2)) + " GB"
	case x >= 0.001:
		return trimZeros(round(x*1e3, 1)) + " MB"
	default:
		return trimZeros(round(x*1e6, 1)) + " KB"
	}
}

// unitPrice prints an item's price as the price file states it.
func unitPrice(it Item) string {
	switch it.Unit {
	case "GB-month":
		return "$" + priceNum(it.UnitUSD) + "/GB-mo"
	case "tokens":
		return "$" + priceNum(it.UnitUSD*1e6) + "/MTok"
	case "month":
		return usd(it.UnitUSD) + "/mo"
	}
	return "$" + priceNum(it.UnitUSD*1e6) + "/M"
}

// priceNum prints a price with at least two decimals and no trailing zeros
// past them: 0.30, 0.015, 5.00.
func priceNum(x float64) string {
	s := trimZeros(round(x, 6))
	i := strings.IndexByte(s, '.')
	switch {
	case i < 0:
		return s + ".00"
	case len(s)-i == 2:
		return s + "0"
	}
	return s
}
