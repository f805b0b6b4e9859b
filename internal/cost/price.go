package cost

import (
	"fmt"
	"math"
)

// Estimate prices usage on a plan, with the warnings and levers, and the
// totals of the same usage on the other plan.
func Estimate(u *Usage, p *Prices, plan string) (*Report, error) {
	r, err := Price(u, p, plan)
	if err != nil {
		return nil, err
	}
	other := Paid
	if plan == Paid {
		other = Free
	}
	o, err := Price(u, p, other)
	if err != nil {
		return nil, err
	}
	r.OtherPlan = &PlanTotals{Plan: o.Plan, TotalUSD: o.TotalUSD, InfraUSD: o.InfraUSD, AIUSD: o.AIUSD}
	return r, nil
}

// Forecast prices a usage profile on a plan ("" means the profile's).
func Forecast(prof *Profile, p *Prices, plan string) (*Report, error) {
	if plan == "" {
		plan = prof.Plan
	}
	r, err := Estimate(FromProfile(prof), p, plan)
	if err != nil {
		return nil, err
	}
	r.Kind = "forecast"
	r.Source = prof.Path
	return r, nil
}

// Price prices usage on one plan: line items per product, the account's
// charges, totals, cache savings, the free plan's warnings and the levers.
func Price(u *Usage, p *Prices, plan string) (*Report, error) {
	if plan != Free && plan != Paid {
		return nil, fmt.Errorf("plan %q: use free or paid", plan)
	}
	if u.Days < 1 {
		return nil, fmt.Errorf("usage covers %d days", u.Days)
	}
	for _, pu := range u.Products {
		for _, mu := range pu.Models {
			if _, err := p.Model(mu.Model); err != nil {
				return nil, fmt.Errorf("product %s: %w", pu.Name, err)
			}
		}
	}
	totals := accountTotals(u)
	// share is the billed fraction of each meter's account total: the free
	// and included amounts are the account's, so every product gets the
	// same fraction of its own use billed.
	share := map[Meter]float64{}
	for m, t := range totals {
		if t > 0 {
			share[m] = billable(p.Meter(m), t, plan) / t
		}
	}
	r := &Report{Plan: plan, Days: u.Days, Prices: p.Name, Warnings: []string{}, Levers: []Lever{}, AccountItems: []Item{}}
	for _, pu := range u.Products {
		pr := priceProduct(&pu, p, share)
		r.InfraUSD += pr.InfraUSD
		r.AIUSD += pr.AIUSD
		r.CacheSavingsUSD += pr.CacheSavingsUSD
		r.Products = append(r.Products, pr)
	}
	if plan == Paid {
		it := Item{Service: Workers, Metric: "paid_plan", Unit: "month", Quantity: 1, Billable: 1, UnitUSD: p.WorkersPaid.BaseUSDPerMonth, USD: p.WorkersPaid.BaseUSDPerMonth}
		r.AccountItems = append(r.AccountItems, it)
		r.InfraUSD += it.USD
	} else {
		r.Warnings = freeWarnings(u, p, totals)
		r.FreeLimits = freeLimitUse(u, p, totals)
		r.Capacity = capacities(u, p)
	}
	r.TotalUSD = r.InfraUSD + r.AIUSD
	var warn []string
	r.Budgets, warn = budgets(u, r)
	r.Warnings = append(r.Warnings, warn...)
	r.Levers = levers(u, p)
	return r, nil
}

// priceProduct is one product's line items: its share of each meter's
// billed use, and its models' tokens.
func priceProduct(pu *ProductUsage, p *Prices, share map[Meter]float64) ProductReport {
	pr := ProductReport{Name: pu.Name, Pattern: pu.Pattern, Requests: pu.Requests, CacheHitRate: pu.CacheHitRate, Models: []string{}, Items: []Item{}}
	for _, m := range Meters {
		q := pu.Quantities[m]
		if q <= 0 {
			continue
		}
		mp := p.Meter(m)
		it := Item{Service: m.Service, Metric: m.Metric, Unit: mp.Unit, Quantity: q, Billable: q * share[m], UnitUSD: mp.UnitUSD()}
		it.USD = it.Billable * it.UnitUSD
		pr.Items = append(pr.Items, it)
		pr.InfraUSD += it.USD
	}
	for _, mu := range pu.Models {
		mp, _ := p.Model(mu.Model)
		pr.Models = append(pr.Models, mu.Model)
		pr.ModelCalls += mu.Calls
		for _, t := range []struct {
			metric string
			n      float64
		}{{InputTokens, mu.InputTokens}, {OutputTokens, mu.OutputTokens}, {CacheReadTokens, mu.CacheReadTokens}, {CacheWriteTokens, mu.CacheWriteTokens}} {
			if t.n <= 0 {
				continue
			}
			it := Item{Service: Model, Metric: t.metric, Model: mu.Model, Unit: "tokens", Quantity: t.n, Billable: t.n, UnitUSD: mp.TokenUSD(t.metric)}
			if mu.Batch {
				it.Mode = "batch"
				it.UnitUSD *= 1 - mp.BatchDiscount
			}
			it.USD = it.Billable * it.UnitUSD
			pr.Items = append(pr.Items, it)
			pr.AIUSD += it.USD
		}
	}
	if pu.CacheHits > 0 {
		if callUSD, ok := perCallUSD(pu, p); ok {
			pr.CacheSavingsUSD = pu.CacheHits * callUSD
		}
	}
	pr.TotalUSD = pr.InfraUSD + pr.AIUSD
	return pr
}

// billable is what of an account total lies past the plan's free or
// included amount.
func billable(mp *MeterPrice, total float64, plan string) float64 {
	if plan == Paid {
		return math.Max(0, total-mp.PaidIncludedPerMonth)
	}
	if mp.AllowancePerMonth > 0 {
		return math.Max(0, total-mp.AllowancePerMonth)
	}
	return 0 // Workers Free refuses work past its limits rather than billing it
}

func accountTotals(u *Usage) map[Meter]float64 {
	t := map[Meter]float64{}
	for _, pu := range u.Products {
		for m, q := range pu.Quantities {
			t[m] += q
		}
	}
	return t
}

// perCallUSD is the average price of one of the product's model calls: from
// the tokens of the calls made, or (no calls: a 100% hit rate) from the
// profile's tokens per call.
func perCallUSD(pu *ProductUsage, p *Prices) (float64, bool) {
	var calls, usd float64
	for _, mu := range pu.Models {
		mp, err := p.Model(mu.Model)
		if err != nil {
			return 0, false
		}
		calls += mu.Calls
		usd += mu.InputTokens*mp.TokenUSD(InputTokens) + mu.OutputTokens*mp.TokenUSD(OutputTokens) +
			mu.CacheReadTokens*mp.TokenUSD(CacheReadTokens) + mu.CacheWriteTokens*mp.TokenUSD(CacheWriteTokens)
	}
	if calls > 0 {
		return usd / calls, true
	}
	if pu.PerCall != nil && len(pu.Models) == 1 {
		mp, err := p.Model(pu.Models[0].Model)
		if err != nil {
			return 0, false
		}
		return pu.PerCall.InputTokens*mp.TokenUSD(InputTokens) + pu.PerCall.OutputTokens*mp.TokenUSD(OutputTokens), true
	}
	return 0, false
}
