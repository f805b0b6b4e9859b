package cost

import (
	"fmt"
	"math"
)

// Capacity is how many requests a day are served at $0 of infrastructure on
// Workers Free before the first free limit runs out: a daily limit (Workers
// requests, Queues operations, Analytics Engine data points...), a monthly
// allowance spread over the month's days (R2 operations), or what is stored
// (R2 storage). A product's capacity is its own, alone on the account; the
// stack's keeps the profile's mix of products and scales it.
type Capacity struct {
	// Product is the product's name; "" for the stack.
	Product string `json:"product,omitempty"`
	// PerDay is the requests a day of the usage (jobs or questions; for the
	// stack, all products' together).
	PerDay float64 `json:"per_day"`
	// FreePerDay is the requests a day served at $0 before Limit runs out.
	FreePerDay float64 `json:"free_per_day"`
	// Scale is FreePerDay / PerDay: how many times today's traffic fits.
	Scale float64 `json:"scale"`
	// Limit is the first limit reached.
	Limit *CapacityLimit `json:"limit,omitempty"`
}

// CapacityLimit is the limit that caps a capacity.
type CapacityLimit struct {
	Service string `json:"service"`
	Metric  string `json:"metric"`
	// Kind is "daily", "monthly" (an allowance, taken per day) or "stored".
	Kind string `json:"kind"`
	// Amount is the limit: per day, per month, or GB (GB-months) stored.
	Amount float64 `json:"amount"`
	Unit   string  `json:"unit"`
}

// capacities computes each product's capacity and the stack's (last) from
// the usage's quantities; only meaningful on Workers Free.
func capacities(u *Usage, p *Prices) []Capacity {
	days := float64(u.Days)
	var out []Capacity
	stackQ, stackFixed := map[Meter]float64{}, map[Meter]float64{}
	stackR := 0.0
	for _, pu := range u.Products {
		if pu.Requests <= 0 {
			continue
		}
		out = append(out, capacityOf(pu.Name, pu.Requests/days, pu.Quantities, pu.Fixed, p, days))
		for m, q := range pu.Quantities {
			stackQ[m] += q
		}
		for m, q := range pu.Fixed {
			stackFixed[m] += q
		}
		stackR += pu.Requests
	}
	if stackR > 0 {
		out = append(out, capacityOf("", stackR/days, stackQ, stackFixed, p, days))
	}
	// Every request is a Workers request, so a limit always applies; keep the
	// list free of the unlimited case all the same (JSON has no infinity).
	kept := out[:0]
	for _, c := range out {
		if c.Limit != nil {
			kept = append(kept, c)
		}
	}
	return kept
}

// capacityOf finds the meter whose limit the traffic reaches first when it
// grows: every quantity but the fixed part grows with the requests (storage
// too: what is kept is proportional to what is written). The limit L of a
// meter used u = fixed + variable is reached at scale (L - fixed) / variable.
func capacityOf(name string, perDay float64, q, fixed map[Meter]float64, p *Prices, days float64) Capacity {
	c := Capacity{Product: name, PerDay: perDay, Scale: math.Inf(1), FreePerDay: math.Inf(1)}
	for _, m := range Meters {
		f := fixed[m]
		variable := q[m] - f
		if variable <= 0 {
			continue
		}
		mp := p.Meter(m)
		// limit and what is fixed, both in the period's units.
		var limit float64
		var lim CapacityLimit
		switch {
		case mp.FreePerDay > 0:
			limit = mp.FreePerDay * days
			lim = CapacityLimit{m.Service, m.Metric, "daily", mp.FreePerDay, mp.Unit}
		case mp.FreeCap > 0:
			limit = mp.FreeCap
			lim = CapacityLimit{m.Service, m.Metric, "stored", mp.FreeCap, mp.Unit}
		case mp.AllowancePerMonth > 0:
			if m.Metric == Storage {
				limit = mp.AllowancePerMonth
				lim = CapacityLimit{m.Service, m.Metric, "stored", mp.AllowancePerMonth, mp.Unit}
			} else {
				limit = mp.AllowancePerMonth * days / 30 // an allowance per month of 30 days
				lim = CapacityLimit{m.Service, m.Metric, "monthly", mp.AllowancePerMonth, mp.Unit}
			}
		default:
			continue
		}
		scale := math.Max(0, limit-f) / variable
		if scale < c.Scale {
			l := lim
			c.Scale, c.Limit = scale, &l
		}
	}
	c.FreePerDay = c.Scale * perDay
	return c
}

// capacityLine says one capacity in words.
func capacityLine(c Capacity, unit string) string {
	return fmt.Sprintf("%s %s a day (%s today's) before %s", count(c.FreePerDay), unit, scaleText(c.Scale), limitText(*c.Limit))
}

func scaleText(s float64) string {
	if s >= 10 {
		return fmt.Sprintf("%.0fx", s)
	}
	return trimZeros(round(s, 1)) + "x"
}

// limitText is e.g. "Queues operations run out (10,000 a day)".
func limitText(l CapacityLimit) string {
	label := meterLabel(Meter{l.Service, l.Metric})
	switch l.Kind {
	case "daily":
		return fmt.Sprintf("%s run out (%s a day)", label, count(l.Amount))
	case "monthly":
		return fmt.Sprintf("%s pass the free %s a month", label, count(l.Amount))
	default:
		return fmt.Sprintf("%s passes the free %s", label, amount(l.Amount, l.Unit))
	}
}

// requestUnit names a pattern's requests.
func requestUnit(pattern string) string {
	switch pattern {
	case EdgeCache:
		return "questions"
	case "":
		return "requests"
	}
	return "jobs"
}

// capacityLines is the summary's line: the stack's capacity.
func capacityLines(r *Report) []string {
	for _, c := range r.Capacity {
		if c.Product == "" {
			return []string{"Free-tier capacity of the stack at this mix: " + capacityLine(c, "requests") + "."}
		}
	}
	return nil
}

// capacityHeader and capacityRows are the capacity table: each product, then
// the stack.
var capacityHeader = []string{"PRODUCT", "TODAY", "AT $0", "HEADROOM", "FIRST LIMIT"}

func capacityRows(r *Report) [][]string {
	patterns := map[string]string{}
	for _, p := range r.Products {
		patterns[p.Name] = p.Pattern
	}
	var rows [][]string
	for _, c := range r.Capacity {
		name, unit := c.Product, requestUnit(patterns[c.Product])
		if name == "" {
			name, unit = "stack (this mix)", "requests"
		}
		rows = append(rows, []string{name, count(c.PerDay) + " " + unit + "/day", count(c.FreePerDay) + " " + unit + "/day", scaleText(c.Scale), limitText(*c.Limit)})
	}
	return rows
}
