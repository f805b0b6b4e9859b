package report

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cmd/cost/shared"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/cost/analytics"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/render"
)

// devToken is sent to zerocost dev's local API, which takes any token (it
// listens on 127.0.0.1 only).
const devToken = "zerocost-dev"

// d1AuthHint ends the message of a refused token.
const d1AuthHint = "check " + cfapi.EnvToken + ": a report by customer needs D1: Read (the spend store) and Account Analytics: Read on the stack's account"

// Notes of a report by customer.
const (
	noteSampled = "Requests count the answers served to the customer: one data point per model call and one per edge-cache answer served without one (the cache hits); a request refused or failed, and a job's polls, write none."
	noteLocal   = "Requests and cache hits are n/a: zerocost dev has no Analytics Engine to read. The exact figures are dev's local spend store."
)

// customerSource is where a report by customer reads: the spend store (a
// D1 database through the D1 query API) and, on Cloudflare, Analytics Engine.
type customerSource struct {
	d1                analytics.D1
	ae                *analytics.Client
	account, database string
	products          []string
	dataset           string
	name              string
	notes             []string
}

// runCustomers reports the month by customer.
func runCustomers(o *Options) error {
	ctx, stop := shared.Context(o.Ctx)
	defer stop()
	open := o.deployedSpend
	if o.Local {
		open = o.localSpend
	}
	src, err := open(ctx)
	if err != nil {
		return err
	}
	rep, err := analytics.MeasureCustomers(ctx, src.d1, src.ae, analytics.CustomerRequest{Month: o.Month, Products: src.products,
		AccountID: src.account, DatabaseID: src.database, Dataset: src.dataset})
	if err != nil {
		return fmt.Errorf("stack %s: %w", o.Stack, err)
	}
	rep.Source = src.name
	rep.Notes = src.notes
	if now := time.Now().UTC(); analytics.MonthOf(now) == rep.Month {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s is not over: the figures run to %s.", rep.Month, now.Format(time.DateOnly)))
	}
	return cost.WriteCustomers(o.IO.Out, rep, o.Format)
}

// noSpendStore is the error of a stack without a spend store.
func noSpendStore(stack string) error {
	return cmdutil.ConfigError(fmt.Errorf("stack %s has no spend store (its D1 database, bound as %s): use per customer is recorded only there, and the plan gives a stack one when it has a product with customer keys (access: keys, the default) or a budget (zerocost:monthlyBudgetUsd or a product's settings.monthlyBudgetUsd)", stack, contract.Spend))
}

// deployedSpend reads the deployed stack: the spend store's id from its
// outputs (--outputs, else the pulumi CLI), its Analytics Engine.
func (o *Options) deployedSpend(ctx context.Context) (*customerSource, error) {
	s, stop, err := o.Open(ctx, "")
	stop() // the session's own context; ctx stops the calls
	if err != nil {
		return nil, err
	}
	if s.Plan.SpendDatabase == nil {
		return nil, noSpendStore(o.Stack)
	}
	db := spendDatabaseID(s.Outputs)
	if db == "" {
		return nil, cmdutil.ConfigError(fmt.Errorf("the outputs of stack %s name no spend database (d1_database_ids.%s): deploy the stack with this version of zerocost, or refresh the outputs file", o.Stack, contract.Spend))
	}
	c := s.Client
	d1 := cfapi.New(cfapi.Config{Token: c.Token, BaseURL: c.BaseURL, HTTPClient: c.HTTP, MaxRetries: c.MaxRetries, AuthHint: d1AuthHint})
	src := &customerSource{d1: d1, ae: c, account: s.Plan.AccountID, database: db, dataset: s.Dataset, name: "stack " + o.Stack, notes: []string{noteSampled}}
	for _, p := range s.Products {
		src.products = append(src.products, p.Name)
	}
	return src, nil
}

// spendDatabaseID is the spend store's id in the outputs (every product
// that binds it names the same database).
func spendDatabaseID(out outputs.Stack) string {
	for _, name := range out.Names() {
		if id := out[name].D1DatabaseIDs[contract.Spend]; id != "" {
			return id
		}
	}
	return ""
}

// localSpend reads the stack's running zerocost dev: its local API serves
// D1's query endpoint over Miniflare's spend store.
func (o *Options) localSpend(context.Context) (*customerSource, error) {
	l, err := o.Load(o.Stack)
	if err != nil {
		return nil, err
	}
	if l.Plan.SpendDatabase == nil {
		return nil, noSpendStore(o.Stack)
	}
	st, err := devrun.ReadState(l.ProjectDir, o.Stack)
	if errors.Is(err, devrun.ErrNotRunning) {
		return nil, cmdutil.ConfigError(fmt.Errorf("no zerocost dev running for stack %s: start it with `zerocost dev --stack %s`", o.Stack, o.Stack))
	}
	if err != nil {
		return nil, cmdutil.ConfigError(fmt.Errorf("reading the state of zerocost dev: %w", err))
	}
	if st.KVAPIURL == "" {
		return nil, cmdutil.ConfigError(fmt.Errorf("the zerocost dev of stack %s serves no local Cloudflare API (it was started by an older zerocost): restart it", o.Stack))
	}
	acct := st.KVAccountID
	if acct == "" {
		acct = l.Plan.AccountID
	}
	d1 := cfapi.New(cfapi.Config{Token: devToken, BaseURL: st.KVAPIURL, HTTPClient: o.HTTPClient(), MaxRetries: -1})
	return &customerSource{d1: d1, account: acct, database: render.LocalDatabaseID(l.Plan.SpendDatabase.Name),
		name: "zerocost dev (stack " + o.Stack + ")", notes: []string{noteLocal}}, nil
}
