package cost

import (
	"strings"
	"testing"
)

var testStack = &StackFacts{Name: "s", MonthlyBudgetUSD: 60, Products: []StackProduct{
	{Index: 0, Name: "relay", Pattern: EdgeCache, Model: "claude-sonnet-4-5"},
	{Index: 1, Name: "pipe", Pattern: AsyncPipeline, Model: "claude-haiku-4-5", ModelMode: ModeBatch, MonthlyBudgetUSD: 10, BatchSize: 5, BatchPollMinutes: 10},
}}

const traffic = `
[[product]]
name = "relay"
requests = 1000
input_tokens = 100
output_tokens = 10
cache_hit_rate = 0.5
`

// With a stack, the profile gives traffic only: the stack fills the rest.
func TestProfileTakesTheStack(t *testing.T) {
	p, err := ParseProfileFor("u.toml", []byte(traffic), testStack)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Products) != 2 || p.MonthlyBudgetUSD == nil || *p.MonthlyBudgetUSD != 60 {
		t.Fatalf("profile %+v", p)
	}
	relay, pipe := p.Products[0], p.Products[1]
	if relay.Pattern != EdgeCache || relay.Model != "claude-sonnet-4-5" || relay.MonthlyBudgetUSD != nil {
		t.Errorf("relay %+v", relay)
	}
	if pipe.Pattern != AsyncPipeline || pipe.ModelMode != ModeBatch || v(pipe.Requests) != 0 || v(pipe.MonthlyBudgetUSD) != 10 || v(pipe.BatchPollMinutes) != 10 {
		t.Errorf("pipe %+v", pipe)
	}
	if len(p.NoTraffic) != 1 || p.NoTraffic[0] != "pipe" {
		t.Errorf("no traffic %v", p.NoTraffic)
	}
	// A restated key that agrees is accepted.
	agree := "monthly_budget_usd = 60\n" + traffic + "pattern = \"edge-cache\"\nmodel = \"claude-sonnet-4-5\"\n"
	if _, err := ParseProfileFor("u.toml", []byte(agree), testStack); err != nil {
		t.Errorf("agreeing keys: %v", err)
	}
}

func TestProfileDisagreesWithStack(t *testing.T) {
	for name, c := range map[string]struct{ doc, want string }{
		"model":   {traffic + "model = \"claude-haiku-4-5\"\n", `u.toml: product[0] (relay).model: "claude-haiku-4-5", but stack s has "claude-sonnet-4-5" (zerocost:products[0].model)`},
		"pattern": {strings.Replace(traffic, "cache_hit_rate = 0.5", "pattern = \"event-agent\"", 1), `product[0] (relay).pattern: "event-agent", but stack s has "edge-cache"`},
		"budget":  {"monthly_budget_usd = 50\n" + traffic, "u.toml: monthly_budget_usd: 50, but stack s's zerocost:monthlyBudgetUsd is 60"},
		"product": {strings.Replace(traffic, `"relay"`, `"relai"`, 1), `product[0] (relai).name: "relai" is not a product of stack s`},
		"product budget": {traffic + "[[product]]\nname = \"pipe\"\nrequests = 1\ninput_tokens = 1\noutput_tokens = 1\nmonthly_budget_usd = 9\n",
			"product[1] (pipe).monthly_budget_usd: 9, but stack s's zerocost:products[1].settings.monthlyBudgetUsd is 10"},
		"batch size": {traffic + "[[product]]\nname = \"pipe\"\nrequests = 1\ninput_tokens = 1\noutput_tokens = 1\nmessages_per_batch = 6\n",
			"product[1] (pipe).messages_per_batch: 6 is more than stack s's zerocost:products[1].settings.batchSize (5)"},
		"poll": {traffic + "[[product]]\nname = \"pipe\"\nrequests = 1\ninput_tokens = 1\noutput_tokens = 1\nbatch_poll_minutes = 5\n",
			"batch_poll_minutes: 5, but stack s's zerocost:products[1].settings.batchPollCron runs every 10 minutes"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseProfileFor("u.toml", []byte(c.doc), testStack)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

// Without a stack, a profile that describes its products fully still works,
// and one that gives traffic only is an error naming what it lacks.
func TestProfileWithoutStack(t *testing.T) {
	if _, err := ParseProfile("u.toml", []byte(traffic+"pattern = \"edge-cache\"\n")); err != nil {
		t.Errorf("full profile: %v", err)
	}
	if _, err := ParseProfile("u.toml", []byte(traffic)); err == nil || !strings.Contains(err.Error(), "product[0] (relay).pattern: missing") {
		t.Errorf("traffic only: %v", err)
	}
}
