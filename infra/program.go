package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/zerocost/zerocost/internal/bundle"
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
				if _, ok := secrets[b.Target]; !ok {
					secrets[b.Target] = zc.RequireSecret(strings.TrimPrefix(b.Target, stack.Namespace+":"))
				}
			}
		}
	}
	products := map[string]*Product{}
	for i := range p.Products {
		pr := &p.Products[i]
		b, err := bundle.Product(pr, projectDir, bundle.Options{})
		if err != nil {
			return nil, err
		}
		c, err := NewProduct(ctx, p, pr, string(b.Code), secrets)
		if err != nil {
			return nil, fmt.Errorf("product %s: %w", pr.Name, err)
		}
		products[pr.Name] = c
	}
	return products, nil
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
