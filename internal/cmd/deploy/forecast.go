package deploy

import (
	"context"
	"slices"

	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/deploy"
)

// costForecaster prices a usage profile (package cost, as `zerocost cost
// forecast` does) twice: for the profile's products deployed before the
// deploy, and for those deployed after it. Products the profile does not
// list are priced with no traffic and are named in the delta. The stack
// says what each product is; the profile gives the traffic.
type costForecaster struct {
	path  string
	facts *cost.StackFacts
}

func (c costForecaster) Forecast(_ context.Context, before, after []string) (*deploy.CostDelta, error) {
	prof, err := cost.LoadProfileFor(c.path, c.facts)
	if err != nil {
		return nil, err
	}
	prices, err := cost.DefaultPrices()
	if err != nil {
		return nil, err
	}
	total := func(products []string) (float64, error) {
		sub := *prof
		sub.Products = nil
		for _, p := range prof.Products {
			if slices.Contains(products, p.Name) {
				sub.Products = append(sub.Products, p)
			}
		}
		if len(sub.Products) == 0 {
			return 0, nil
		}
		r, err := cost.Forecast(&sub, prices, "")
		if err != nil {
			return 0, err
		}
		return r.TotalUSD, nil
	}
	d := &deploy.CostDelta{Source: c.path, Plan: prof.Plan}
	if d.BeforeUSD, err = total(before); err != nil {
		return nil, err
	}
	if d.AfterUSD, err = total(after); err != nil {
		return nil, err
	}
	d.DeltaUSD = d.AfterUSD - d.BeforeUSD
	for _, name := range after {
		if slices.Contains(prof.NoTraffic, name) || !slices.ContainsFunc(prof.Products, func(p cost.ProductProfile) bool { return p.Name == name }) {
			d.Unpriced = append(d.Unpriced, name)
		}
	}
	return d, nil
}
