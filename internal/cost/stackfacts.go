package cost

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/zerocost/zerocost/internal/stack"
)

// StackFacts is what a stack says its products are: with a stack, a usage
// profile gives only traffic (requests, tokens, hit rate, retries) and the
// stack the rest. A product's tiers change no price (a tier's door
// limiter, a keyed request's one door, counts no meter) but its access does: a product with
// keys reads its customers' key records from KV. Its settings carry the
// retention that sizes R2 storage (Settings.JobRecordDays, AnswerDays).
type StackFacts struct {
	Name string
	// MonthlyBudgetUSD is zerocost:monthlyBudgetUsd; 0: none.
	MonthlyBudgetUSD float64
	Products         []StackProduct
}

// StackProduct is one product of a stack, its defaults applied.
type StackProduct struct {
	// Index is the product's place in zerocost:products, for error messages.
	Index     int
	Name      string
	Pattern   string
	Model     string
	ModelMode string // async-pipeline only
	Runner    string // event-agent only
	// Access is the product's access: keys (the default) or public.
	Access string
	// MonthlyBudgetUSD is settings.monthlyBudgetUsd; 0: none.
	MonthlyBudgetUSD float64
	// BatchSize is an async pipeline's settings.batchSize (its default
	// applied: stack.DefaultBatchSize): the most messages a consumer batch
	// holds, and a profile's messages_per_batch when it gives none.
	BatchSize int
	// BatchPollMinutes is batch mode's poll interval when its cron runs
	// every N minutes ("*/N * * * *"); 0 otherwise.
	BatchPollMinutes float64
	// Settings are the product's settings, defaults applied: what R2 keeps.
	Settings stack.Settings
}

var everyNMinutes = regexp.MustCompile(`^\*/([0-9]+) \* \* \* \*$`)

// FactsOf reads a validated stack configuration.
func FactsOf(cfg *stack.Config) *StackFacts {
	f := &StackFacts{Name: cfg.Stack, MonthlyBudgetUSD: cfg.MonthlyBudgetUSD}
	for i, p := range cfg.Products {
		sp := StackProduct{Index: i, Name: p.Name, Pattern: p.Pattern, Model: p.Model, MonthlyBudgetUSD: p.Settings.MonthlyBudgetUSD, Settings: p.Settings}
		if sp.Model == "" {
			sp.Model = stack.DefaultModel
		}
		sp.Runner = p.Settings.Runner
		sp.Access = p.Access
		if sp.Access == "" {
			sp.Access = stack.DefaultAccess
		}
		if p.Pattern == stack.AsyncPipeline {
			sp.ModelMode = p.Settings.ModelMode
			sp.BatchSize = p.Settings.BatchSize
			if m := everyNMinutes.FindStringSubmatch(p.Settings.BatchPollCron); m != nil {
				n, _ := strconv.Atoi(m[1])
				sp.BatchPollMinutes = float64(n)
			}
		}
		f.Products = append(f.Products, sp)
	}
	return f
}

func (f *StackFacts) product(name string) *StackProduct {
	for i := range f.Products {
		if f.Products[i].Name == name {
			return &f.Products[i]
		}
	}
	return nil
}

// fromStack fills what the stack says into the decoded profile: a key the
// profile restates must agree with the stack, else add reports it. A product
// of the stack the profile has no traffic for is priced with none, and
// named in Profile.NoTraffic.
func (p *Profile) fromStack(st *StackFacts, add func(field, format string, args ...any)) {
	key := func(k string) string { return stack.Namespace + ":" + k }
	if p.MonthlyBudgetUSD != nil && *p.MonthlyBudgetUSD != st.MonthlyBudgetUSD {
		add("monthly_budget_usd", "%v, but stack %s's %s is %s", *p.MonthlyBudgetUSD, st.Name, key(stack.KeyMonthlyBudgetUSD), orNone(st.MonthlyBudgetUSD))
	}
	p.MonthlyBudgetUSD = budgetPtr(st.MonthlyBudgetUSD)
	seen := map[string]bool{}
	for i := range p.Products {
		pp := &p.Products[i]
		seen[pp.Name] = true
		field := fmt.Sprintf("product[%d] (%s).", i, pp.Name)
		sp := st.product(pp.Name)
		if sp == nil {
			add(field+"name", "%q is not a product of stack %s", pp.Name, st.Name)
			continue
		}
		pp.restate(sp, st.Name, field, add)
	}
	for _, sp := range st.Products {
		if seen[sp.Name] {
			continue
		}
		zero, none := 0.0, 0.0
		pp := ProductProfile{Name: sp.Name, Requests: &zero, InputTokens: &zero, OutputTokens: &zero}
		if sp.Pattern == EdgeCache {
			pp.CacheHitRate = &none
		}
		pp.restate(&sp, st.Name, "", add)
		p.Products = append(p.Products, pp)
		p.NoTraffic = append(p.NoTraffic, sp.Name)
	}
}

// restate checks and fills one product's stack-given keys.
func (pp *ProductProfile) restate(sp *StackProduct, stackName, field string, add func(field, format string, args ...any)) {
	sf := fmt.Sprintf("%s:%s[%d]", stack.Namespace, stack.KeyProducts, sp.Index)
	same := func(key, got, want, stackKey string) {
		if got != "" && got != want {
			add(field+key, "%q, but stack %s has %q (%s.%s)", got, stackName, want, sf, stackKey)
		}
	}
	same("pattern", pp.Pattern, sp.Pattern, "pattern")
	same("model", pp.Model, sp.Model, "model")
	same("model_mode", pp.ModelMode, sp.ModelMode, "settings.modelMode")
	same("runner", pp.Runner, sp.Runner, "settings.runner")
	same("access", pp.Access, sp.Access, "access")
	pp.Pattern, pp.Model, pp.ModelMode, pp.Runner, pp.Access = sp.Pattern, sp.Model, sp.ModelMode, sp.Runner, sp.Access
	pp.Retention = sp.Settings
	if b := pp.MonthlyBudgetUSD; b != nil && *b != sp.MonthlyBudgetUSD {
		add(field+"monthly_budget_usd", "%v, but stack %s's %s.settings.monthlyBudgetUsd is %s", *b, stackName, sf, orNone(sp.MonthlyBudgetUSD))
	}
	pp.MonthlyBudgetUSD = budgetPtr(sp.MonthlyBudgetUSD)
	if m := pp.MessagesPerBatch; m != nil && sp.BatchSize > 0 && *m > float64(sp.BatchSize) {
		add(field+"messages_per_batch", "%v is more than stack %s's %s.settings.batchSize (%d): a consumer batch holds at most that many", *m, stackName, sf, sp.BatchSize)
	}
	if pp.MessagesPerBatch == nil && sp.BatchSize > 0 {
		// Unset: full batches of the stack's batchSize, the most messages a
		// delivery sends on (pack_pass_on) when it is above the packs one
		// invocation runs.
		m := float64(sp.BatchSize)
		pp.MessagesPerBatch = &m
	}
	if sp.ModelMode == ModeBatch && sp.BatchPollMinutes > 0 {
		if m := pp.BatchPollMinutes; m != nil && *m != sp.BatchPollMinutes {
			add(field+"batch_poll_minutes", "%v, but stack %s's %s.settings.batchPollCron runs every %v minutes", *m, stackName, sf, sp.BatchPollMinutes)
		}
		m := sp.BatchPollMinutes
		pp.BatchPollMinutes = &m
	}
}

func budgetPtr(usd float64) *float64 {
	if usd <= 0 {
		return nil
	}
	return &usd
}

func orNone(usd float64) string {
	if usd <= 0 {
		return "not set"
	}
	return strconv.FormatFloat(usd, 'f', -1, 64)
}
