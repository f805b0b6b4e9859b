package contract

import (
	"bytes"
	"fmt"

	"github.com/zerocost/zerocost/internal/contract/invocation"
)

// invocationTypeScript renders what one Worker invocation may make on Workers
// Free and what a realtime delivery runs (internal/contract/invocation, where
// each number's source is), for lib/invocation.ts and
// patterns/async-pipeline/pack.ts.
func invocationTypeScript() []byte {
	var b bytes.Buffer
	b.WriteString("// What one Worker invocation may make on Workers Free, and what a job of a\n// realtime delivery makes at worst (internal/contract/invocation: each number's source).\n")
	for _, c := range []struct {
		name, doc string
		v         int
	}{
		{"FREE_FETCHES", "External fetches one invocation may make on Workers Free.", invocation.FreeFetches},
		{"FREE_D1_QUERIES", "D1 queries (round trips) one invocation may make on Workers Free.", invocation.FreeD1Queries},
		{"SERVICE_CALLS", "Calls to Cloudflare services one invocation may make (the D1 queries among them).", invocation.ServiceCalls},
		{"D1_PER_RECORD", "D1 round trips of one recorded model call: the upsert and its one retry.", invocation.D1PerRecord},
		{"D1_PER_ALERT_CLAIM", "D1 round trips of a record's alerts' claim.", invocation.D1PerAlertClaim},
		{"ALERT_ROOM", "Fetches and D1 queries an invocation with a spend store keeps for budget alerts: 3 default thresholds x 3 scopes.", invocation.AlertRoom},
	} {
		fmt.Fprintf(&b, "/** %s */\nexport const %s = %d;\n", c.doc, c.name, c.v)
	}
	jc := invocation.JobCost
	fmt.Fprintf(&b, "/** What one job of a realtime delivery may make at worst (invocation.JobCost). */\nexport const JOB_COST = { fetches: %d, d1: %d, serviceCalls: %d } as const;\n", jc.Fetches, jc.D1, jc.ServiceCalls)
	fmt.Fprintf(&b, "/** Most jobs one realtime delivery runs, with and without a spend store (invocation.DeliveryMaxJobs). */\nexport const DELIVERY_MAX_JOBS = { spendStore: %d, none: %d } as const;\n\n",
		invocation.DeliveryMaxJobs(true), invocation.DeliveryMaxJobs(false))
	return b.Bytes()
}
