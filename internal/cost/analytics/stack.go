package analytics

import (
	"fmt"
	"strings"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan"
)

// StackProducts maps a stack's plan to what Measure reads: script and bucket
// names from the plan, queue ids from the deployed stack's
// outputs. It also returns the Analytics Engine dataset the Workers write to.
func StackProducts(p *plan.Plan, out outputs.Stack) ([]Product, string, error) {
	var prods []Product
	var errs []string
	dataset := ""
	for _, pr := range p.Products {
		o, ok := out[pr.Name]
		if !ok {
			errs = append(errs, fmt.Sprintf("product %s is not in the outputs (deployed products: %s): deploy it, or refresh the outputs file", pr.Name, strings.Join(out.Names(), ", ")))
			continue
		}
		if o.Script != "" && o.Script != pr.Script {
			errs = append(errs, fmt.Sprintf("product %s: the outputs name script %q, the plan %q: are they the same stack?", pr.Name, o.Script, pr.Script))
		}
		prod := Product{Name: pr.Name, Pattern: pr.Pattern, Script: pr.Script}
		for _, b := range pr.R2Buckets {
			prod.Buckets = append(prod.Buckets, b.Name)
		}
		for _, q := range pr.Queues {
			id := o.QueueIDs[q.Name]
			if id == "" {
				errs = append(errs, fmt.Sprintf("product %s: the outputs have no queue_ids[%q]", pr.Name, q.Name))
				continue
			}
			prod.QueueIDs = append(prod.QueueIDs, id)
		}
		for _, b := range pr.Bindings {
			if b.Type == plan.Analytics && b.Name == contract.ModelUsage {
				if dataset != "" && dataset != b.Target {
					errs = append(errs, fmt.Sprintf("product %s writes model usage to dataset %q, another product to %q: zerocost reads one", pr.Name, b.Target, dataset))
				}
				dataset = b.Target
			}
		}
		prods = append(prods, prod)
	}
	if len(errs) > 0 {
		return nil, "", fmt.Errorf("stack %s: %s", p.Stack, strings.Join(errs, "; "))
	}
	if dataset == "" {
		dataset = DefaultModelDataset
	}
	return prods, dataset, nil
}
