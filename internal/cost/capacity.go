package cost

import (
	"fmt"
	"math"
	"strings"
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
	// Next is the limit reached after it, were Limit raised (Workers Paid,
	// a bought allowance, a setting): NextFreePerDay requests a day.
	Next           *CapacityLimit `json:"next,omitempty"`
	NextFreePerDay float64        `json:"next_free_per_day,omitempty"`
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
	// PerRequest is why it binds: how much of it one request (job or
	// question) uses, on average, at this profile (storage: what a day's
	// requests keep, per request).
	PerRequest float64 `json:"per_request"`
}

// capacities computes each product's capacity and the stack's (last) from
// the usage's quantities; only meaningful on Workers Free.
func capacities(u *Usage, p *Prices) []Capacity {
	days := float64(u.Days)
	var out []Capacity
	stackQ, stackFixed, stackCeil := map[Meter]float64{}, map[Meter]float64{}, map[Meter]float64{}
	unbounded := map[Meter]bool{}
	stackR := 0.0
	for _, pu := range u.Products {
		if pu.Requests <= 0 {
			continue
		}
		out = append(out, capacityOf(pu.Name, pu.Requests/days, pu.Quantities, pu.Fixed, pu.Ceiling, p, days))
		for m, q := range pu.Quantities {
			stackQ[m] += q
			if c, ok := pu.Ceiling[m]; ok {
				stackCeil[m] += c
			} else {
				unbounded[m] = true
			}
		}
		for m, q := range pu.Fixed {
			stackFixed[m] += q
		}
		stackR += pu.Requests
	}
	if stackR > 0 {
		for m := range unbounded {
			delete(stackCeil, m) // a product's share of it grows without bound
		}
		out = append(out, capacityOf("", stackR/days, stackQ, stackFixed, stackCeil, p, days))
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
func capacityOf(name string, perDay float64, q, fixed, ceiling map[Meter]float64, p *Prices, days float64) Capacity {
	c := Capacity{Product: name, PerDay: perDay, Scale: math.Inf(1), FreePerDay: math.Inf(1)}
	nextScale := math.Inf(1)
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
			lim = CapacityLimit{m.Service, m.Metric, "daily", mp.FreePerDay, mp.Unit, 0}
		case mp.FreeCap > 0:
			limit = mp.FreeCap
			lim = CapacityLimit{m.Service, m.Metric, "stored", mp.FreeCap, mp.Unit, 0}
		case mp.AllowancePerMonth > 0:
			if m.Metric == Storage {
				limit = mp.AllowancePerMonth
				lim = CapacityLimit{m.Service, m.Metric, "stored", mp.AllowancePerMonth, mp.Unit, 0}
			} else {
				limit = mp.AllowancePerMonth * days / 30 // an allowance per month of 30 days
				lim = CapacityLimit{m.Service, m.Metric, "monthly", mp.AllowancePerMonth, mp.Unit, 0}
			}
		default:
			continue
		}
		if c, ok := ceiling[m]; ok && c <= limit {
			continue // bounded under its limit whatever the traffic
		}
		lim.PerRequest = variable / (perDay * days)
		scale := math.Max(0, limit-f) / variable
		switch l := lim; {
		case scale < c.Scale:
			c.Next, nextScale = c.Limit, c.Scale
			c.Scale, c.Limit = scale, &l
		case scale < nextScale:
			c.Next, nextScale = &l, scale
		}
	}
	c.FreePerDay = c.Scale * perDay
	if c.Next != nil {
		c.NextFreePerDay = nextScale * perDay
	}
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
var capacityHeader = []string{"PRODUCT", "TODAY", "AT $0", "HEADROOM", "FIRST LIMIT", "NEXT LIMIT"}

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
		rows = append(rows, []string{name, count(c.PerDay) + " " + unit + "/day", count(c.FreePerDay) + " " + unit + "/day", scaleText(c.Scale),
			limitText(*c.Limit) + whyText(*c.Limit, unit), nextText(c, unit)})
	}
	return rows
}

// whyText is why a limit binds: e.g. "; 2.1 a job".
func whyText(l CapacityLimit, unit string) string {
	one := strings.TrimSuffix(unit, "s")
	if l.Metric == Storage {
		return fmt.Sprintf("; %s a %s a day", amount(l.PerRequest, l.Unit), one)
	}
	return fmt.Sprintf("; %s a %s", trimZeros(round(l.PerRequest, 2)), one)
}

// nextText is the limit after the first, at the requests a day it binds.
func nextText(c Capacity, unit string) string {
	if c.Next == nil {
		return "none"
	}
	return fmt.Sprintf("%s %s/day: %s%s", count(c.NextFreePerDay), unit, limitText(*c.Next), whyText(*c.Next, unit))
}
