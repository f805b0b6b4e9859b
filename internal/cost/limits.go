package cost

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// eps absorbs floating-point noise when a usage is compared with a limit, so
// that exactly 1,000 writes a day is at the limit, not over it.
const eps = 1e-9

// serviceNames are the services as people name them.
var serviceNames = map[string]string{Workers: "Workers", KV: "KV", R2: "R2", Queues: "Queues", D1: "D1", Analytics: "Analytics Engine", Model: "Model"}

// metricNames are the metrics as people name them, plural.
var metricNames = map[string]string{
	Requests: "requests", CPUms: "CPU-ms", Reads: "reads", Writes: "writes", Deletes: "deletes", Lists: "lists",
	Storage: "storage", ClassA: "Class A operations", ClassB: "Class B operations", Operations: "operations", DataPoints: "data points", RowsRead: "rows read", RowsWritten: "rows written",
	InputTokens: "input tokens", OutputTokens: "output tokens", CacheReadTokens: "cache-read tokens", CacheWriteTokens: "cache-write tokens",
	"paid_plan": "Workers Paid plan",
}

func meterLabel(m Meter) string { return serviceNames[m.Service] + " " + metricNames[m.Metric] }

// series is a product's per-day amounts of a meter: measured, or the total
// spread evenly.
func series(pu *ProductUsage, m Meter, days int) (s []float64, measured bool) {
	if d, ok := pu.Daily[m]; ok && len(d) == days {
		return d, true
	}
	s = make([]float64, days)
	for i := range s {
		s[i] = pu.Quantities[m] / float64(days)
	}
	return s, false
}

// freeWarnings checks the account's use against Workers Free's limits: daily
// limits (summed over the products, as Cloudflare counts them per account),
// caps on stored amounts, monthly allowances, and CPU time per invocation.
func freeWarnings(u *Usage, p *Prices, totals map[Meter]float64) []string {
	out := []string{}
	for _, m := range Meters {
		mp := p.Meter(m)
		if totals[m] <= 0 {
			continue
		}
		switch {
		case mp.FreePerDay > 0:
			if w := dailyWarning(u, p, m); w != "" {
				out = append(out, w)
			}
		case mp.FreeCap > 0:
			if totals[m] > mp.FreeCap*(1+eps) {
				out = append(out, fmt.Sprintf("%s: %s on the account (%s) against Workers Free's %s: writes fail once it is full. %s",
					meterLabel(m), amount(totals[m], mp.Unit), byProduct(u, m, 1), amount(mp.FreeCap, mp.Unit), paidNote(mp, totals[m], p)))
			}
		case mp.AllowancePerMonth > 0:
			if w := allowanceWarning(u, p, m, totals[m]); w != "" {
				out = append(out, w)
			}
		}
	}
	if lim := p.WorkersFree.CPUmsPerInvocation; lim > 0 {
		for _, pu := range u.Products {
			if pu.CPUmsPerInvocation > lim*(1+eps) {
				out = append(out, fmt.Sprintf("Workers CPU: %s's invocations use about %s ms of CPU, over Workers Free's %s ms per invocation: those invocations fail (error 1102). Workers Paid allows 30 s; its CPU-ms are in the items.",
					pu.Name, trimZeros(round(pu.CPUmsPerInvocation, 1)), trimZeros(lim)))
			}
		}
	}
	return out
}

func dailyWarning(u *Usage, p *Prices, m Meter) string {
	mp := p.Meter(m)
	L := mp.FreePerDay
	acct := make([]float64, u.Days)
	perProduct := make([][]float64, len(u.Products))
	anyMeasured := false
	for i := range u.Products {
		s, measured := series(&u.Products[i], m, u.Days)
		anyMeasured = anyMeasured || measured
		perProduct[i] = s
		for d, x := range s {
			acct[d] += x
		}
	}
	label := meterLabel(m)
	unit := metricNames[m.Metric]
	total := 0.0
	for _, x := range acct {
		total += x
	}
	if !anyMeasured {
		U := acct[0]
		if U <= L*(1+eps) {
			return ""
		}
		frac := L / U
		fail := U - L
		var who []string
		for i, pu := range u.Products {
			share := perProduct[i][0] / U
			if share <= 0 || pu.Requests <= 0 {
				continue
			}
			reqPerDay := pu.Requests / float64(u.Days)
			perReq := math.Min(1, pu.Quantities[m]/pu.Requests)
			who = append(who, fmt.Sprintf("%s %s", count(reqPerDay*(1-frac)*perReq), pu.Name))
		}
		failing := ""
		if len(who) > 0 {
			failing = " (about " + strings.Join(who, ", ") + " requests a day)"
		}
		return fmt.Sprintf("%s: %s/day on the account (%s) against Workers Free's %s/day: over the limit every day of the month (daily limits reset at 00:00 UTC). The limit is reached at about %s UTC; after it ~%s %s a day fail%s. %s",
			label, count(U), byProduct(u, m, float64(u.Days)), count(L), clock(frac), count(fail), unit, failing, paidNote(mp, total, p))
	}
	// Measured: Cloudflare refuses operations past the limit, so a day at the
	// limit is a day that had failures.
	var hit []string
	peak, peakDay := 0.0, 0
	for d, x := range acct {
		if x >= L*(1-eps) {
			hit = append(hit, fmt.Sprintf("%s: %s", dayName(u, d), count(x)))
		}
		if x > peak {
			peak, peakDay = x, d
		}
	}
	if len(hit) == 0 {
		return ""
	}
	shown := hit
	if len(shown) > 5 {
		shown = append(shown[:5:5], fmt.Sprintf("%d more", len(hit)-5))
	}
	return fmt.Sprintf("%s: reached Workers Free's %s/day on %d of %d days (%s; peak %s on %s): operations past the limit fail until 00:00 UTC. Account use, per day on average: %s. %s",
		label, count(L), len(hit), u.Days, strings.Join(shown, ", "), count(peak), dayName(u, peakDay), byProduct(u, m, float64(u.Days)), paidNote(mp, total, p))
}

func allowanceWarning(u *Usage, p *Prices, m Meter, total float64) string {
	mp := p.Meter(m)
	A := mp.AllowancePerMonth
	if total <= A*(1+eps) {
		return ""
	}
	acct := make([]float64, u.Days)
	for i := range u.Products {
		s, _ := series(&u.Products[i], m, u.Days)
		for d, x := range s {
			acct[d] += x
		}
	}
	day, cum := u.Days-1, 0.0
	for d, x := range acct {
		cum += x
		if cum >= A*(1-eps) {
			day = d // used up during (or at the end of) this day
			break
		}
	}
	over := total - A
	when := fmt.Sprintf("runs out on day %d of each month", day+1)
	if u.Dates != nil {
		when = "ran out on " + dayName(u, day)
	}
	if m.Metric == Storage {
		when = "is exceeded all month"
	}
	per := " a month"
	if m.Metric == Storage {
		per = "" // GB-months are already per month
	}
	return fmt.Sprintf("%s: %s%s on the account (%s) against %s free%s: the allowance %s; the remaining %s cost $%s (R2 bills past its free allowance on every plan, Workers Free included).",
		meterLabel(m), amount(total, mp.Unit), per, byProduct(u, m, 1), amount(A, mp.Unit), per, when, amount(over, mp.Unit), money(over*mp.UnitUSD()))
}

// paidNote says what the meter's account total costs on Workers Paid.
func paidNote(mp *MeterPrice, total float64, p *Prices) string {
	inc := mp.PaidIncludedPerMonth
	base := money(p.WorkersPaid.BaseUSDPerMonth)
	if total <= inc*(1+eps) {
		return fmt.Sprintf("On Workers Paid: %s a month, within the %s included: +$0.00 on top of the $%s/month plan.", amount(total, mp.Unit), short(inc, mp.Unit), base)
	}
	return fmt.Sprintf("On Workers Paid: %s a month, %s past the %s included at %s: +$%s on top of the $%s/month plan.",
		amount(total, mp.Unit), short(total-inc, mp.Unit), short(inc, mp.Unit), mp.PriceLabel(), money((total-inc)*mp.UnitUSD()), base)
}

// short is amount without the unit of counts.
func short(x float64, unit string) string {
	if unit == "GB-month" {
		return bytesGB(x)
	}
	return count(x)
}

// byProduct attributes an account's use of a meter to the products, largest
// first, each divided by div (days, for per-day figures).
func byProduct(u *Usage, m Meter, div float64) string {
	type part struct {
		name string
		q    float64
	}
	var parts []part
	for _, pu := range u.Products {
		if q := pu.Quantities[m]; q > 0 {
			parts = append(parts, part{pu.Name, q / div})
		}
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].q > parts[j].q })
	s := make([]string, len(parts))
	for i, pt := range parts {
		if m.Metric == Storage {
			s[i] = pt.name + " " + amount(pt.q, "GB-month")
		} else {
			s[i] = pt.name + " " + count(pt.q)
		}
	}
	return strings.Join(s, ", ")
}

func dayName(u *Usage, d int) string {
	if d < len(u.Dates) {
		return u.Dates[d]
	}
	return fmt.Sprintf("day %d", d+1)
}

// clock turns a fraction of a day into HH:MM.
func clock(frac float64) string {
	mins := int(math.Round(frac * 24 * 60))
	if mins >= 24*60 {
		mins = 24*60 - 1
	}
	return fmt.Sprintf("%02d:%02d", mins/60, mins%60)
}

// freeLimitUse is the account's peak daily use of each daily limit it uses.
func freeLimitUse(u *Usage, p *Prices, totals map[Meter]float64) []LimitUse {
	var out []LimitUse
	for _, m := range Meters {
		mp := p.Meter(m)
		if mp.FreePerDay <= 0 || totals[m] <= 0 {
			continue
		}
		acct := make([]float64, u.Days)
		for i := range u.Products {
			s, _ := series(&u.Products[i], m, u.Days)
			for d, x := range s {
				acct[d] += x
			}
		}
		peak := 0.0
		for _, x := range acct {
			peak = math.Max(peak, x)
		}
		out = append(out, LimitUse{Service: m.Service, Metric: m.Metric, PeakDay: peak, LimitDay: mp.FreePerDay, Use: peak / mp.FreePerDay})
	}
	return out
}

// limitsLine lists every Workers Free daily limit the account uses, with its
// share of the limit (KV reads among them when products take customer keys).
func limitsLine(ls []LimitUse) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%s %s", meterLabel(Meter{l.Service, l.Metric}), trimZeros(round(l.Use*100, 1))+"%")
	}
	return "Workers Free daily limits used: " + strings.Join(parts, ", ") + "."
}
