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

// program reads the stack's config, builds the plan (the same one the CLI
// prints) and creates one component per product.
func program(ctx *pulumi.Context) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	projectDir, err := stack.FindProjectDir(wd)
	if err != nil {
		return err
	}
	cfg, err := stack.FromValues(ctx.Stack(), configValues(ctx))
	if err != nil {
		return fmt.Errorf("stack %s:\n%w", ctx.Stack(), err)
	}
	p, err := plan.Build(cfg, projectDir)
	if err != nil {
		return fmt.Errorf("stack %s:\n%w", ctx.Stack(), err)
	}
	if missing := p.MissingSecrets(); len(missing) > 0 {
		var errs []error
		for _, k := range missing {
			errs = append(errs, fmt.Errorf("%s: missing secret: set it with `pulumi config set --secret %s`", k, k))
		}
		return errors.Join(errs...)
	}
	zc := config.New(ctx, stack.Namespace)
	secrets := map[string]pulumi.StringOutput{}
	for _, pr := range p.Products {
		for _, b := range pr.Bindings {
			if b.Type == plan.Secret {
				if _, ok := secrets[b.Target]; !ok {
					secrets[b.Target] = zc.RequireSecret(strings.TrimPrefix(b.Target, stack.Namespace+":"))
				}
			}
		}
	}
	for i := range p.Products {
		pr := &p.Products[i]
		b, err := bundle.Product(pr, projectDir, bundle.Options{})
		if err != nil {
			return err
		}
		if _, err := NewProduct(ctx, p, pr, string(b.Code), secrets); err != nil {
			return fmt.Errorf("product %s: %w", pr.Name, err)
		}
	}
	return nil
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
