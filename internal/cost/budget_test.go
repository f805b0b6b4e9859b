package cost

import (
	"bytes"
	"strings"
	"testing"
)

// A pipeline of 30,000 jobs at $0.0009 a call costs $27 a month: a $9
// budget lasts 10 days, a $27 budget exactly the month.
func TestBudgetRunsOutDay(t *testing.T) {
	r := forecast(t, Free, "days = 30\n"+product("pipe", AsyncPipeline, 30000, "polls_per_job = 0\nmonthly_budget_usd = 9"))
	if len(r.Budgets) != 1 {
		t.Fatalf("budgets %+v", r.Budgets)
	}
	b := r.Budgets[0]
	if b.Product != "pipe" || b.BudgetUSD != 9 || !near(b.SpendUSD, 27) || !near(b.Used, 3) || b.RunsOutDay != 10 {
		t.Errorf("budget %+v, want $27 against $9, out on day 10", b)
	}
	if !hasWarning(r, "Budget: pipe's model cost is $27.00 a month against a budget of $9.00: at this pace the budget runs out on day 10 of each month (UTC)") {
		t.Errorf("warnings %q", r.Warnings)
	}
	r = forecast(t, Free, "days = 30\n"+product("pipe", AsyncPipeline, 30000, "polls_per_job = 0\nmonthly_budget_usd = 27"))
	if b := r.Budgets[0]; b.RunsOutDay != 0 || len(r.Warnings) != 0 {
		t.Errorf("a budget equal to the spend: %+v, warnings %q", b, r.Warnings)
	}
	// 9.01 runs out during day 11 (day 10 ends at $9.00).
	r = forecast(t, Free, "days = 30\n"+product("pipe", AsyncPipeline, 30000, "polls_per_job = 0\nmonthly_budget_usd = 9.01"))
	if b := r.Budgets[0]; b.RunsOutDay != 11 {
		t.Errorf("$9.01: %+v, want day 11", b)
	}
}

// The stack-wide cap is checked against the products' sum, and a product
// without a budget of its own still counts toward it.
func TestStackBudget(t *testing.T) {
	r := forecast(t, Paid, "days = 30\nmonthly_budget_usd = 20\n"+
		product("a", EventAgent, 15000, "monthly_budget_usd = 100")+ // $13.50
		product("b", EventAgent, 15000, "")) // $13.50
	if len(r.Budgets) != 2 || r.Budgets[0].Product != "a" || r.Budgets[1].Product != "" {
		t.Fatalf("budgets %+v", r.Budgets)
	}
	if a := r.Budgets[0]; a.RunsOutDay != 0 {
		t.Errorf("a's own budget lasts: %+v", a)
	}
	s := r.Budgets[1]
	if !near(s.SpendUSD, 27) || s.RunsOutDay != 23 { // $0.90 a day: $20 during day 23
		t.Errorf("stack budget %+v, want $27 against $20, day 23", s)
	}
	if !hasWarning(r, "Budget: the stack's model cost is $27.00 a month against a budget of $20.00: at this pace the budget runs out on day 23") {
		t.Errorf("warnings %q", r.Warnings)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Model budgets", "stack (all products)", "$20.00", "day 23", "lasts the month"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("the table does not show %q:\n%s", want, buf.String())
		}
	}
}

func TestBudgetErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{product("a", EventAgent, 1, "monthly_budget_usd = 0"), "product[0] (a).monthly_budget_usd: 0 is not a budget"},
		{product("a", EventAgent, 1, "monthly_budget_usd = -5"), "product[0] (a).monthly_budget_usd: -5 is not a budget"},
		{"monthly_budget_usd = nan\n" + product("a", EventAgent, 1, ""), "monthly_budget_usd: NaN is not a budget"},
	} {
		_, err := ParseProfile("t.toml", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.doc, err, tc.want)
		}
	}
}

// Tokens billed through the Message Batches API cost the model's price less
// its batch discount (50% for Haiku 4.5), as separate items marked batch.
func TestBatchTokensAtTheBatchPrice(t *testing.T) {
	u := &Usage{Days: 30, Products: []ProductUsage{{Name: "pipe", Pattern: AsyncPipeline, Requests: 2000, Quantities: map[Meter]float64{},
		Models: []ModelUsage{
			{Model: "claude-haiku-4-5", Calls: 1000, InputTokens: 1e6, OutputTokens: 1e5},
			{Model: "claude-haiku-4-5", Batch: true, Calls: 1000, InputTokens: 1e6, OutputTokens: 1e5},
		}}}}
	r, err := Price(u, defaultPrices(t), Free)
	if err != nil {
		t.Fatal(err)
	}
	var realtime, batch float64
	for _, it := range r.Products[0].Items {
		if it.Service != Model {
			continue
		}
		if it.Mode == "batch" {
			batch += it.USD
		} else {
			realtime += it.USD
		}
	}
	if !near(realtime, 1.5) || !near(batch, 0.75) {
		t.Errorf("realtime $%v, batch $%v; want $1.50 and $0.75", realtime, batch)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "input tokens (batch)") {
		t.Errorf("the table does not mark batch tokens:\n%s", buf.String())
	}
}

// Batch mode: the same jobs' tokens at half the price, and the ops the
// contract's batch events say (the poller's cron all month, a Message Batch
// per delivered batch).
func TestBatchModeForecast(t *testing.T) {
	rt := forecast(t, Free, "days = 30\n"+product("pipe", AsyncPipeline, 3000, "polls_per_job = 0\nmessages_per_batch = 10"))
	bt := forecast(t, Free, "days = 30\n"+product("pipe", AsyncPipeline, 3000, "polls_per_job = 0\nmessages_per_batch = 10\nmodel_mode = \"batch\""))
	if !near(bt.AIUSD, rt.AIUSD/2) || rt.AIUSD == 0 {
		t.Errorf("batch $%v, realtime $%v: want half", bt.AIUSD, rt.AIUSD)
	}
	// 8,640 cron runs (every 5 minutes for 30 days) + 3,000 POSTs + 300
	// consumer invocations.
	wantQty(t, bt, "pipe", Workers, Requests, 8640+3000+300)
	// Per job: the send, the delivery, the ack (no DLQ, no retries).
	wantQty(t, bt, "pipe", Queues, Operations, 9000)
	// Class A: a submitted and a done record per job, a batch record per
	// batch, a list per cron run.
	wantQty(t, bt, "pipe", R2, ClassA, 3000*2+300+8640)
	for _, l := range bt.Levers {
		if l.Lever == "batch_api" && (l.Applies || !strings.Contains(l.Note, "already in batch mode")) {
			t.Errorf("batch lever on a batch product: %+v", l)
		}
	}
	for _, l := range rt.Levers {
		if l.Lever == "batch_api" && (!l.Applies || !near(l.SavingUSD, rt.AIUSD/2)) {
			t.Errorf("batch lever on a realtime product: %+v", l)
		}
	}
	if _, err := ParseProfile("t.toml", []byte(product("a", EventAgent, 1, "model_mode = \"batch\""))); err == nil || !strings.Contains(err.Error(), "model_mode: applies to async-pipeline only") {
		t.Errorf("model_mode on an event agent: %v", err)
	}
}

// A budgeted product adds the guard's D1 rows: a check before every model
// call and a record after every successful one. A keyed product adds its
// customers' rows on top (a customer check and a customer record per call),
// with or without a budget of its own.
func TestBudgetGuardOps(t *testing.T) {
	public := "\naccess = \"public\""
	r := forecast(t, Free, "days = 30\n"+product("agent", EventAgent, 3000, "monthly_budget_usd = 100"+public))
	wantQty(t, r, "agent", D1, RowsRead, 3000*2) // a row read by each check and each record
	wantQty(t, r, "agent", D1, RowsWritten, 3000)
	r = forecast(t, Free, "days = 30\n"+product("agent", EventAgent, 3000, public[1:]))
	wantQty(t, r, "agent", D1, RowsWritten, 0)
	// Keys (the default), no budget: the customers' rows alone.
	r = forecast(t, Free, "days = 30\n"+product("agent", EventAgent, 3000, ""))
	wantQty(t, r, "agent", D1, RowsWritten, 3000)
	wantQty(t, r, "agent", D1, RowsRead, 3000*2)
	// Keys and a budget: both rows, in the same trips.
	r = forecast(t, Free, "days = 30\n"+product("agent", EventAgent, 3000, "monthly_budget_usd = 100"))
	wantQty(t, r, "agent", D1, RowsWritten, 3000*2)
	wantQty(t, r, "agent", D1, RowsRead, 3000*4)
	// The stack's budget guards every product, and its queries read the
	// month's row of each product (two here).
	r = forecast(t, Free, "days = 30\nmonthly_budget_usd = 50\n"+product("relay", EdgeCache, 1000, "cache_hit_rate = 0.5"+public)+product("agent", EventAgent, 10, public[1:]))
	wantQty(t, r, "relay", D1, RowsWritten, 500)
	wantQty(t, r, "relay", D1, RowsRead, 500*2*2)
}
