package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/zerocost/zerocost/infra/cloudflare"
	"github.com/zerocost/zerocost/internal/bundle"
	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/stack"
)

// program creates the stack's products and exports each one's outputs
// (an outputs.Product) under its name.
func program(ctx *pulumi.Context) error {
	products, err := newProducts(ctx)
	if err != nil {
		return err
	}
	for name, c := range products {
		ctx.Export(name, c.Outputs)
	}
	return nil
}

// newProducts reads the stack's config, builds the plan (the same one the CLI
// prints) and creates one component per product, by product name.
func newProducts(ctx *pulumi.Context) (map[string]*Product, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	projectDir, err := stack.FindProjectDir(wd)
	if err != nil {
		return nil, err
	}
	cfg, err := stack.FromValues(ctx.Stack(), configValues(ctx))
	if err != nil {
		return nil, fmt.Errorf("stack %s:\n%w", ctx.Stack(), err)
	}
	p, err := plan.Build(cfg, projectDir)
	if err != nil {
		return nil, fmt.Errorf("stack %s:\n%w", ctx.Stack(), err)
	}
	if missing := p.MissingSecrets(); len(missing) > 0 {
		var errs []error
		for _, k := range missing {
			errs = append(errs, fmt.Errorf("%s: missing secret: set it with `pulumi config set --secret %s`", k, k))
		}
		return nil, errors.Join(errs...)
	}
	zc := config.New(ctx, stack.Namespace)
	secrets := map[string]pulumi.StringOutput{}
	for _, pr := range p.Products {
		for _, b := range pr.Bindings {
			if info, _ := b.Type.Info(); info.Secret {
				if _, ok := secrets[b.Target]; ok {
					continue
				}
				if b.Name == contract.BudgetAlertWebhook && strings.HasPrefix(b.Target, stack.Namespace+":"+stack.KeyProducts+"[") {
					// A product's token-free webhook, from its settings: bound
					// as a secret all the same, so that it is never rendered.
					secrets[b.Target] = pulumi.ToSecret(pulumi.String(pr.Settings.BudgetAlertWebhook)).(pulumi.StringOutput)
					continue
				}
				secrets[b.Target] = zc.RequireSecret(strings.TrimPrefix(b.Target, stack.Namespace+":"))
			}
		}
	}
	shared, err := newShared(ctx, p)
	if err != nil {
		return nil, err
	}
	products := map[string]*Product{}
	for i := range p.Products {
		pr := &p.Products[i]
		b, err := bundle.Product(pr, projectDir, bundle.Options{})
		if err != nil {
			return nil, err
		}
		c, err := NewProduct(ctx, p, pr, string(b.Code), secrets, shared)
		if err != nil {
			return nil, fmt.Errorf("product %s: %w", pr.Name, err)
		}
		products[pr.Name] = c
	}
	return products, nil
}

// Shared are the stack's resources that every product binds, not one
// product's: the spend database when the stack has a budget.
type Shared struct {
	// Databases are the D1 databases by name.
	Databases map[string]*cloudflare.D1Database
}

// newShared creates the stack's shared resources. The spend database is no
// product's child; like the buckets' data, the month's spend survives
// `pulumi destroy` unless the stack sets zerocost:retainData false.
func newShared(ctx *pulumi.Context, p *plan.Plan) (*Shared, error) {
	s := &Shared{Databases: map[string]*cloudflare.D1Database{}}
	if db := p.SpendDatabase; db != nil {
		d, err := cloudflare.NewD1Database(ctx, db.Name, &cloudflare.D1DatabaseArgs{
			AccountId: pulumi.String(p.AccountID),
			Name:      pulumi.String(db.Name),
		}, pulumi.RetainOnDelete(p.RetainData))
		if err != nil {
			return nil, err
		}
		s.Databases[db.Name] = d
	}
	return s, nil
}

// configValues collects the zerocost: config, noting which values are secrets.
func configValues(ctx *pulumi.Context) map[string]stack.Value {
	out := map[string]stack.Value{}
	prefix := stack.Namespace + ":"
	keys := stack.KnownKeys()
	// Pulumi hands the program its whole config as JSON in PULUMI_CONFIG; keys
	// of the namespace that zerocost does not know are passed on to be reported.
	var all map[string]any
	if json.Unmarshal([]byte(os.Getenv(pulumi.EnvConfig)), &all) == nil {
		for k := range all {
			if name, ok := strings.CutPrefix(k, prefix); ok {
				keys = append(keys, name)
			}
		}
	}
	for _, key := range keys {
		full := prefix + key
		v, ok := ctx.GetConfig(full)
		if !ok {
			continue
		}
		out[key] = stack.Value{Text: v, Secret: ctx.IsConfigSecret(full)}
	}
	return out
}
