package cost

import "testing"

// A delivery of more full packs than one invocation runs sends the rest on:
// a queue write, read and delete more per pack, per delivery it waits.
func TestPassOnCounts(t *testing.T) {
	cases := []struct {
		name, extra string
		queueOps    float64 // 100 messages of ten jobs: 300, and 3 per pass-on
		batches     float64
	}{
		// No spend store: 25 jobs, two packs a delivery; 5 a batch: 3 sent on
		// each, 100/2 deliveries: 150 pass-ons.
		{"public, 5 a batch", "messages_per_batch = 5\naccess = \"public\"", 300 + 3*150, (100 + 150) / 5.0},
		{"public, 2 a batch (the default)", "messages_per_batch = 2\naccess = \"public\"", 300, 100 / 2.0},
		// Keys: a spend store, one pack a delivery: 4 sent on each of 100 deliveries.
		{"keys, 5 a batch", "messages_per_batch = 5", 300 + 3*400, (100 + 400) / 5.0},
		{"keys, 1 a batch (the default)", "messages_per_batch = 1", 300, 100},
		// A budget gives a public product the spend store too.
		{"public with a budget, 2 a batch", "messages_per_batch = 2\naccess = \"public\"\nmonthly_budget_usd = 50", 300 + 3*100, (100 + 100) / 2.0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := forecast(t, Free, product("pipe", AsyncPipeline, 1000, "polls_per_job = 0\njobs_per_request = 10\n"+c.extra))
			wantQty(t, r, "pipe", Queues, Operations, c.queueOps)
			// The POSTs and the consumer batches.
			wantQty(t, r, "pipe", Workers, Requests, 100+c.batches)
		})
	}
	// Three jobs a POST: three messages a delivery fit 10 jobs, so 3 a batch send none on.
	r := forecast(t, Free, product("pipe", AsyncPipeline, 900, "polls_per_job = 0\njobs_per_request = 3\nmessages_per_batch = 3"))
	wantQty(t, r, "pipe", Queues, Operations, 300*3)
}

// Passing on makes Queues, the binding free limit, bind sooner: a public
// pipeline of ten-job POSTs delivered 5 messages at a time spends 0.75
// operations a job (0.3 without pass-ons).
func TestCapacityWithPassOns(t *testing.T) {
	c := capacityOfProduct(t, forecast(t, Free, "days = 30\n"+product("a", AsyncPipeline, 3000, "polls_per_job = 2\njobs_per_request = 10\nmessages_per_batch = 5\naccess = \"public\"")), "a")
	if c.Limit == nil || c.Limit.Service != Queues || !near(c.FreePerDay, 10000/0.75) {
		t.Errorf("capacity %+v (limit %+v), want Queues first at 13,333 jobs a day", c, c.Limit)
	}
}

// A stack-backed profile without messages_per_batch takes the stack's batchSize.
func TestMessagesPerBatchFollowsTheStack(t *testing.T) {
	st := &StackFacts{Name: "s", Products: []StackProduct{{Index: 0, Name: "pipe", Pattern: AsyncPipeline, Model: "claude-haiku-4-5", ModelMode: ModeRealtime, Access: "public", BatchSize: 2}}}
	p, err := ParseProfileFor("u.toml", []byte("[[product]]\nname = \"pipe\"\nrequests = 10\ninput_tokens = 1\noutput_tokens = 1\n"), st)
	if err != nil {
		t.Fatal(err)
	}
	if got := v(p.Products[0].MessagesPerBatch); got != 2 {
		t.Errorf("messages_per_batch %v, want the stack's batchSize 2", got)
	}
	p, err = ParseProfileFor("u.toml", []byte("[[product]]\nname = \"pipe\"\nrequests = 10\ninput_tokens = 1\noutput_tokens = 1\nmessages_per_batch = 1\n"), st)
	if err != nil {
		t.Fatal(err)
	}
	if got := v(p.Products[0].MessagesPerBatch); got != 1 {
		t.Errorf("messages_per_batch %v, want the profile's 1", got)
	}
}
