package contract

//go:generate go run ./tsgen -doc ../../docs/cost.md

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/zerocost/zerocost/internal/contract/invocation"
	"github.com/zerocost/zerocost/internal/stack"
)

// Op is one thing a Worker does that a Cloudflare meter counts (or that is
// free but still worth counting, like a Cache API match). On Workers Free
// every counted op spends a daily or monthly allowance, so the Workers'
// storage design is, in the end, this table.
type Op string

// The ops, named as the Worker test harness counts them (workers-src/test:
// every env binding wrapped, each call counted).
const (
	// OpRequest is an invocation of the Worker: a fetch, a delivered queue
	// batch, a cron trigger. Workers Free: 100,000 a day.
	OpRequest Op = "worker.request"
	// OpR2Put is a PutObject (R2 Class A).
	OpR2Put Op = "r2.put"
	// OpR2List is a ListObjects (R2 Class A).
	OpR2List Op = "r2.list"
	// OpR2Get is a GetObject, found or not (R2 Class B).
	OpR2Get Op = "r2.get"
	// OpR2Head is a HeadObject (R2 Class B).
	OpR2Head Op = "r2.head"
	// OpR2Delete is a DeleteObject (free).
	OpR2Delete Op = "r2.delete"
	// OpQueueWrite is a message written to a queue: sent by the Worker, or
	// moved to the dead-letter queue by the platform (Queues: one operation
	// per 64 KB).
	OpQueueWrite Op = "queue.write"
	// OpQueueRead is a message delivered to the consumer (each retry is
	// another read).
	OpQueueRead Op = "queue.read"
	// OpQueueDelete is a message acknowledged (explicitly or by the batch
	// ending without an error).
	OpQueueDelete Op = "queue.delete"
	// OpRateLimit is a call of the ratelimit binding (free).
	OpRateLimit Op = "ratelimit.limit"
	// OpCacheMatch and OpCachePut are Cache API calls (free, per location;
	// the Cache API does nothing on workers.dev hostnames).
	OpCacheMatch Op = "cache.match"
	OpCachePut   Op = "cache.put"
	// OpAnalyticsWrite is an Analytics Engine data point: one per
	// successful model call, and one per edge-cache request served without
	// one (HitPointEvents).
	OpAnalyticsWrite Op = "analytics.write"
	// OpModelCall is one successful or failed request to the model API.
	OpModelCall Op = "model.call"
	// OpBatchCreate, OpBatchRetrieve and OpBatchResults are requests to the
	// Message Batches API (batch mode of async-pipeline): a batch created, a
	// batch's status read, an ended batch's results read. Free in themselves
	// (tokens are priced by the usage data points); each is an external
	// subrequest (Workers Free: 50 per invocation).
	OpBatchCreate   Op = "model.batch_create"
	OpBatchRetrieve Op = "model.batch_retrieve"
	OpBatchResults  Op = "model.batch_results"
	// OpD1RowsRead and OpD1RowsWritten are the rows D1 counts for the spend
	// guard's queries (the SPEND database, bound when the stack has a
	// budget): what D1 bills (Free: 5M rows read, 100k rows written a day).
	// The tables are WITHOUT ROWID, so no separate index rows.
	OpD1RowsRead    Op = "d1.rows_read"
	OpD1RowsWritten Op = "d1.rows_written"
	// OpWebhookPost is a budget alert POSTed to the webhook (free; an
	// external subrequest).
	OpWebhookPost Op = "webhook.post"
	// OpKVRead is a Workers KV read, found or not: a customer key's record
	// in KEYS (Workers Free: 100,000 a day).
	OpKVRead Op = "kv.read"
	// OpWorkflowCreate is a Workflow instance created (runner: workflow).
	// The instance's run is one execution, which Workers Free counts
	// against the 100,000 requests a day (an OpRequest of its event).
	OpWorkflowCreate Op = "workflow.create"
	// OpWorkflowStep is one step.do of an instance (Workers Free: 1,024
	// steps an instance); its result is kept in the instance's state
	// (100 MB an instance, 3 days after it ends).
	OpWorkflowStep Op = "workflow.step"
	// OpWorkflowStatus is an instance's status read (get and status()).
	OpWorkflowStatus Op = "workflow.status"
)

// Ops lists every op, in the order tables show them.
var Ops = []Op{
	OpRequest, OpR2Put, OpR2List, OpR2Get, OpR2Head, OpR2Delete,
	OpQueueWrite, OpQueueRead, OpQueueDelete, OpRateLimit,
	OpCacheMatch, OpCachePut, OpAnalyticsWrite, OpModelCall,
	OpBatchCreate, OpBatchRetrieve, OpBatchResults,
	OpD1RowsRead, OpD1RowsWritten, OpWebhookPost, OpKVRead,
	OpWorkflowCreate, OpWorkflowStep, OpWorkflowStatus,
}

// PackMaxJobs is the most jobs one async-pipeline queue message carries
// (workers-src/src/lib/pack.ts): a delivered pack runs its jobs at once in
// one consumer invocation, and a full one is what a delivery with a spend
// store may run (invocation.DeliveryMaxJobs: Workers Free's 50 external
// subrequests and 50 D1 queries an invocation, at most two model requests
// and four D1 queries a job); a delivery sends the messages past its jobs
// on (workers-src/src/patterns/async-pipeline/pack.ts passOn). A pack also
// stays within one 64 KB Queues billing unit.
const PackMaxJobs = invocation.PackMaxJobs

// Event is one thing that happens to a product (a client's request, a
// delivery, a dead letter) and every op it causes, including the work it
// leaves to ctx.waitUntil.
type Event struct {
	Name string
	Doc  string
	Ops  map[Op]int
}

// Event names.
const (
	EventPost         = "post"           // POST /jobs with one input, the job ending done
	EventPostFailed   = "post_failed"    // event-agent: POST /jobs whose model call fails for good
	EventPoll         = "poll"           // GET /jobs/:id
	EventBatch        = "consumer_batch" // a batch delivered to the queue consumer (one invocation)
	EventDelivery     = "delivery"       // a delivery whose model call succeeds
	EventRedelivery   = "redelivery"     // a delivery of a job already done (no model call)
	EventAttemptRetry = "attempt_failed" // a delivery whose model call fails and is retried
	EventDeferral     = "deferral"       // a delivery the rate limiter defers (sent again with a delay)
	EventDeadLetter   = "dead_letter"    // a message moved to the DLQ and its dead record written

	// async-pipeline, jobs posted together (POST /jobs with several inputs):
	// they travel packed, PackMaxJobs a message (workers-src/src/lib/pack.ts).
	EventPostMany          = "post_many"             // POST /jobs with several inputs, per request
	EventPostManyJob       = "post_many_job"         // per job of it: the door
	EventPackMessage       = "pack_message"          // per message it sends: written, read, deleted
	EventPackedDelivery    = "packed_delivery"       // per job of a delivered pack that ends done
	EventPackedAttemptFail = "packed_attempt_failed" // per failed attempt of a packed job, the message retried
	EventPackedSiblingRead = "packed_sibling_read"   // per job of a retried pack that ended before: its record read again
	EventPackedDead        = "packed_dead"           // a packed job's last failed attempt, and its dead record
	EventPackPassOn        = "pack_pass_on"          // per message a delivery sends on past the jobs one invocation runs
	EventHitEdge           = "hit_edge"              // POST /ask answered from the Cache API
	EventHitStore          = "hit_store"             // POST /ask answered from R2 (Cache API empty or absent)
	EventMiss              = "miss"                  // POST /ask that calls the model
	EventMissShared        = "miss_shared"           // POST /ask that waited for another request's call of the same key (x-cache-shared)

	// async-pipeline in batch mode (MODEL_MODE = "batch"): the consumer
	// submits each delivery as one Message Batch, a cron trigger polls.
	EventBatchSubmit   = "batch_submit"   // a delivery with jobs to submit: one batch created and recorded
	EventBatchDelivery = "batch_delivery" // a job of that delivery: read, written submitted, acked
	EventBatchPoll     = "batch_poll"     // one cron run of the poller
	EventBatchOpen     = "batch_open"     // a batch still in progress at a poll
	EventBatchEnded    = "batch_ended"    // a batch found ended: its record and results read, its record deleted
	EventBatchResult   = "batch_result"   // a succeeded request: the job done
	EventBatchRetry    = "batch_retry"    // an errored, expired or canceled request within the retries: the job sent again
	EventBatchDead     = "batch_dead"     // a request that failed past the retries: the dead record

	// The spend guard (a product with a budget, or any product of a stack
	// with one): these come on top of the events above. Each model call
	// (post, delivery, miss) adds one budget_check and one budget_record.
	// The counts are for a product budget alone; with a stack budget
	// (zerocost:monthlyBudgetUsd) the check and the record each read one row
	// per product that has spent this month instead of one.
	EventBudgetCheck   = "budget_check"   // before a model call: one query, the month's spend row
	EventBudgetRecord  = "budget_record"  // after a successful model call: one upsert of the spend row
	EventBudgetRefused = "budget_refused" // a request refused with 429 budget_exhausted (no model call)
	EventBudgetAlert   = "budget_alert"   // a threshold crossed: the alert claimed and POSTed (once per threshold, product and month)
	EventPark          = "park"           // async-pipeline: a delivery refused by the budget, the job parked and acked
	EventResume        = "resume"         // async-pipeline: POST /admin/jobs/resume, per call
	EventResumeJob     = "resume_job"     // async-pipeline: per job resumed

	// Customer keys (a product with access: keys, the default): these
	// come on top of the events above, per request but GET /health and the
	// admin routes. A keyed request passes one door, as a public one does:
	// its tier's (DOOR_<TIER>, keyed by customer) in place of DOOR_LIMITER,
	// counted in the events above (post, post_many_job, hit_edge, ...).
	EventKeyLookup  = "key_lookup"  // a key not in the isolate's cache: its record read from KEYS
	EventKeyRefused = "key_refused" // a well-formed key KEYS does not hold live: 401
	// The spend guard's customer scope (a keyed request's model call; the
	// spend store is always there for a product with keys).
	EventCustomerCheck  = "customer_check"  // before a model call of a customer with a monthly budget: its month row read
	EventCustomerRecord = "customer_record" // after a model call of a keyed request: the upsert of its customer's month row
	// event-agent on runner: workflow (the default): POST creates an
	// instance, the instance's steps do the work.
	EventPostWorkflow = "post_workflow" // POST /jobs: 202 once the instance is created
	EventRun          = "run"           // the instance's run, the job ending done
	EventRunFailed    = "run_failed"    // the instance's run, the model step failing for good
	EventStepRetry    = "step_retry"    // a model step attempt that failed and is tried again
	EventPollInstance = "poll_instance" // GET /jobs/:id without a record past the age window
)

// keyEvents are the customer keys' events of every pattern. A key's record
// is read at most once a minute per isolate (lib/keys.ts CACHE_TTL_MS), so a
// customer sending n requests a minute to one isolate costs at most 1/n
// key_lookup per request.
var keyEvents = []Event{
	{EventKeyLookup, "customer keys: a key not in the isolate's cache (at most once a minute per key and isolate): its record read", map[Op]int{
		OpKVRead: 1}},
	{EventKeyRefused, "customer keys: a well-formed key KEYS does not hold live: the read, the failure counted per client address, 401 invalid_key", map[Op]int{
		OpRequest: 1, OpKVRead: 1, OpRateLimit: 1}},
	{EventCustomerCheck, "customer keys: before each model call of a customer with a monthly budget, its month row read (customer_spend), in the same D1 batch as the product's check", map[Op]int{
		OpD1RowsRead: 1}},
	{EventCustomerRecord, "customer keys: after each successful model call of a keyed request, the upsert of its customer's month row (customer_spend), in the same D1 batch as the product's row", map[Op]int{
		OpD1RowsRead: 1, OpD1RowsWritten: 1}},
}

// guardEvents are the spend guard's events of every pattern (a product in a
// stack with a budget): per model call a check and a record, per threshold
// reached an alert.
var guardEvents = []Event{
	{EventBudgetCheck, "spend guard: before each model call, one query of the month's spend (the product's row)", map[Op]int{
		OpD1RowsRead: 1}},
	{EventBudgetRecord, "spend guard: after each successful model call, the upsert of the month's spend row (in waitUntil where there is one)", map[Op]int{
		OpD1RowsRead: 1, OpD1RowsWritten: 1}},
	{EventBudgetAlert, "spend guard: a threshold reached (50, 80, 100% by default): the alert claimed, POSTed to the webhook", map[Op]int{
		OpD1RowsRead: 1, OpD1RowsWritten: 1, OpWebhookPost: 1}},
}

// concat joins event lists, in order.
func concat(lists ...[]Event) []Event {
	var out []Event
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Events is, per pattern, what each event costs in ops. The Workers' op tests
// (workers-src/test/ops/<pattern>.test.ts) measure every event in workerd and
// fail unless their counts equal these; internal/cost prices a usage profile
// with them. Change the Workers and this table together.
var Events = map[string][]Event{
	stack.EventAgent: concat([]Event{
		{EventPost, "POST /jobs: the door and the rate limiter, 202 with a signed job id (no write); in waitUntil the model call, its data point and the job record", map[Op]int{
			OpRequest: 1, OpRateLimit: 2, OpModelCall: 1, OpAnalyticsWrite: 1, OpR2Put: 1}},
		{EventPostFailed, "POST /jobs whose model call fails: the failed job record instead of the result", map[Op]int{
			OpRequest: 1, OpRateLimit: 2, OpModelCall: 1, OpR2Put: 1}},
		{EventPoll, "GET /jobs/:id: one read of the job record (queued needs none: the id proves it)", map[Op]int{
			OpRequest: 1, OpR2Get: 1}},
	}, guardEvents, []Event{
		{EventBudgetRefused, "POST /jobs with the budget spent: the door, the limiter, the check, 429 budget_exhausted (no job accepted)", map[Op]int{
			OpRequest: 1, OpRateLimit: 2, OpD1RowsRead: 1}},
		{EventPostWorkflow, "runner: workflow: POST /jobs: the door and the limiter, one Workflow instance created (its id the signed job id), 202", map[Op]int{
			OpRequest: 1, OpRateLimit: 2, OpWorkflowCreate: 1}},
		{EventRun, "runner: workflow: the instance (one execution): the model step (the call, its data point; the result kept in the instance's state), the record step (the put)", map[Op]int{
			OpRequest: 1, OpWorkflowStep: 2, OpModelCall: 1, OpAnalyticsWrite: 1, OpR2Put: 1}},
		{EventRunFailed, "runner: workflow: the model step fails for good (a non-retryable answer, or its retries spent): the failed record", map[Op]int{
			OpRequest: 1, OpWorkflowStep: 2, OpModelCall: 1, OpR2Put: 1}},
		{EventStepRetry, "runner: workflow: a failed model attempt the step tries again (its backoff is a sleep of the instance, no execution of its own)", map[Op]int{
			OpModelCall: 1}},
		{EventPollInstance, "runner: workflow: GET /jobs/:id of a job with no record past the age window: the read, then the instance's status", map[Op]int{
			OpRequest: 1, OpR2Get: 1, OpWorkflowStatus: 1}},
	}, keyEvents),
	stack.AsyncPipeline: concat([]Event{
		{EventPost, "POST /jobs with one input: the door (one call per job), one message sent (no write: the id proves the job)", map[Op]int{
			OpRequest: 1, OpRateLimit: 1, OpQueueWrite: 1}},
		{EventBatch, "one invocation of the consumer per delivered batch", map[Op]int{
			OpRequest: 1}},
		{EventDelivery, "the job record read (done already? claimed?), the limiter, the claim (the record running, a conditional put), the model call, its data point, the job record written, the ack", map[Op]int{
			OpQueueRead: 1, OpR2Get: 1, OpRateLimit: 1, OpModelCall: 1, OpAnalyticsWrite: 1, OpR2Put: 2, OpQueueDelete: 1}},
		{EventRedelivery, "a job already done delivered again: the read finds it, the message is acked", map[Op]int{
			OpQueueRead: 1, OpR2Get: 1, OpQueueDelete: 1}},
		{EventAttemptRetry, "a failed attempt: the claim, then the job record keeps the error, the message is retried", map[Op]int{
			OpQueueRead: 1, OpR2Get: 1, OpRateLimit: 1, OpModelCall: 1, OpR2Put: 2}},
		{EventDeferral, "the limiter says wait: the job is sent again with a delay and this delivery acked", map[Op]int{
			OpQueueRead: 1, OpR2Get: 1, OpRateLimit: 1, OpQueueWrite: 1, OpQueueDelete: 1}},
		{EventDeadLetter, "retries exhausted: the platform moves the message, the DLQ consumer writes the dead record with its input, and its copy under held/ (kept 31 days)", map[Op]int{
			OpQueueWrite: 1, OpQueueRead: 1, OpR2Get: 1, OpR2Put: 2, OpQueueDelete: 1}},
		{EventPoll, "GET /jobs/:id: one read of the job record", map[Op]int{
			OpRequest: 1, OpR2Get: 1}},
		{EventPostMany, "POST /jobs with several inputs, per request (its jobs packed, PackMaxJobs a message)", map[Op]int{OpRequest: 1}},
		{EventPostManyJob, "per job of a POST with several inputs: the door's limit() call", map[Op]int{OpRateLimit: 1}},
		{EventPackMessage, "per message of packed jobs: written, read once, deleted when all its jobs ended (each within one 64 KB billing unit)", map[Op]int{OpQueueWrite: 1, OpQueueRead: 1, OpQueueDelete: 1}},
		{EventPackedDelivery, "per job of a delivered pack ending done: the record read, the limiter, the claim, the model call, its data point, the record written", map[Op]int{OpR2Get: 1, OpRateLimit: 1, OpModelCall: 1, OpAnalyticsWrite: 1, OpR2Put: 2}},
		{EventPackedAttemptFail, "per failed attempt of a packed job: the claim, the record keeps the error, and the message's redelivery (one read per round, shared by the jobs that failed in it; counted per failed attempt, the most it costs)", map[Op]int{OpR2Get: 1, OpRateLimit: 1, OpModelCall: 1, OpR2Put: 2, OpQueueRead: 1}},
		{EventPackedSiblingRead, "a redelivered pack: per job of it that ended before, its record read (and not run again)", map[Op]int{OpR2Get: 1}},
		{EventPackPassOn, "per message a delivery sends on past the jobs one invocation runs (invocation.DeliveryMaxJobs; pack.ts passOn): sent again, read again, deleted again", map[Op]int{OpQueueWrite: 1, OpQueueRead: 1, OpQueueDelete: 1}},
		{EventPackedDead, "a packed job out of its own attempts: its last failed attempt, then its record read and written dead with its input, and its copy under held/ (alone: no queue op)", map[Op]int{OpR2Get: 2, OpRateLimit: 1, OpModelCall: 1, OpR2Put: 4}},
	}, guardEvents, []Event{
		{EventPark, "a delivery with the budget spent: the record read, the limiter, the check, the parked row (input kept), the record written budget_exhausted, and its copy under held/ (kept 31 days), the ack", map[Op]int{
			OpQueueRead: 1, OpR2Get: 1, OpRateLimit: 1, OpD1RowsRead: 1, OpD1RowsWritten: 1, OpR2Put: 2, OpQueueDelete: 1}},
		{EventResume, "POST /admin/jobs/resume: the check, the parked rows counted after (one row read per job left parked); its jobs travel packed, PackMaxJobs a message (pack_message each)", map[Op]int{
			OpRequest: 1, OpD1RowsRead: 1}},
		{EventResumeJob, "per job resumed: its parked row read, its record read and written queued (conditional), its held/ copy deleted (free), its row deleted (the delete reads it twice); its message is a pack's", map[Op]int{
			OpD1RowsRead: 3, OpD1RowsWritten: 1, OpR2Get: 1, OpR2Put: 1, OpR2Delete: 1}},
		{EventBatchSubmit, "batch mode, per delivery with jobs to submit (besides its consumer_batch): one Message Batch created, its record (batches/<id>.json) written", map[Op]int{
			OpBatchCreate: 1, OpR2Put: 1}},
		{EventBatchDelivery, "batch mode, per job submitted: the job record read, written submitted with the batch id, the ack", map[Op]int{
			OpQueueRead: 1, OpR2Get: 1, OpR2Put: 1, OpQueueDelete: 1}},
		{EventBatchPoll, "batch mode, per cron run: one invocation, one list of the open batch records", map[Op]int{
			OpRequest: 1, OpR2List: 1}},
		{EventBatchOpen, "batch mode, per open batch per cron run: its status read", map[Op]int{
			OpBatchRetrieve: 1}},
		{EventBatchEnded, "batch mode, per batch that ended: its status, its record and its results read, its record deleted", map[Op]int{
			OpBatchRetrieve: 1, OpR2Get: 1, OpBatchResults: 1, OpR2Delete: 1}},
		{EventBatchResult, "batch mode, per succeeded request: the job record read and written done, the usage data point (mode batch)", map[Op]int{
			OpR2Get: 1, OpR2Put: 1, OpAnalyticsWrite: 1}},
		{EventBatchRetry, "batch mode, per errored, expired or canceled request within MAX_RETRIES: the job sent again, its record written queued", map[Op]int{
			OpR2Get: 1, OpQueueWrite: 1, OpR2Put: 1}},
		{EventBatchDead, "batch mode, per request failed past MAX_RETRIES: the dead record with its input, and its copy under held/ (kept 31 days)", map[Op]int{
			OpR2Get: 1, OpR2Put: 2}},
	}, keyEvents),
	stack.EdgeCache: concat([]Event{
		{EventHitEdge, "the door, answered from the Cache API of this location, the request's data point (mode cache_hit)", map[Op]int{
			OpRequest: 1, OpRateLimit: 1, OpCacheMatch: 1, OpAnalyticsWrite: 1}},
		{EventHitStore, "the door, answered from R2, then kept in the Cache API for the rest of its TTL, the request's data point (mode cache_hit)", map[Op]int{
			OpRequest: 1, OpRateLimit: 1, OpCacheMatch: 1, OpR2Get: 1, OpCachePut: 1, OpAnalyticsWrite: 1}},
		{EventMiss, "no fresh answer: the door, the limiter, the model call, its data point, the answer stored in R2 and the Cache API", map[Op]int{
			OpRequest: 1, OpCacheMatch: 1, OpR2Get: 1, OpRateLimit: 2, OpModelCall: 1, OpAnalyticsWrite: 1, OpR2Put: 1, OpCachePut: 1}},
		{EventMissShared, "a miss while another request of this isolate calls the model for the same key: the door, the lookups, that call's answer, the request's data point (mode cache_hit)", map[Op]int{
			OpRequest: 1, OpRateLimit: 1, OpCacheMatch: 1, OpR2Get: 1, OpAnalyticsWrite: 1}},
	}, guardEvents, []Event{
		{EventBudgetRefused, "a miss with the budget spent: the door, the lookups, the limiter, the check, 429 budget_exhausted (hits never check)", map[Op]int{
			OpRequest: 1, OpCacheMatch: 1, OpR2Get: 1, OpRateLimit: 2, OpD1RowsRead: 1}},
	}, keyEvents),
}

// EventOps returns the ops of a pattern's event; it panics on an event the
// table lacks (the names are constants of the program).
func EventOps(pattern, event string) map[Op]int {
	for _, e := range Events[pattern] {
		if e.Name == event {
			return e.Ops
		}
	}
	panic(fmt.Sprintf("contract: pattern %q has no event %q", pattern, event))
}

// checkEvents reports ops the table uses but Ops does not list.
func checkEvents() []string {
	var out []string
	pats := slices.Sorted(maps.Keys(Events))
	for _, p := range pats {
		for _, e := range Events[p] {
			for op := range e.Ops {
				if !slices.Contains(Ops, op) {
					out = append(out, fmt.Sprintf("%s/%s: unknown op %q", p, e.Name, op))
				}
			}
		}
	}
	return out
}

// OpsMarkdown renders the event table as one markdown table per pattern:
// a row per event, a column per op the pattern uses. docs/cost.md holds it
// between the markers OpsDocBegin and OpsDocEnd (a test keeps it fresh; `go
// generate ./internal/contract` rewrites it).
func OpsMarkdown() string {
	var b strings.Builder
	for i, p := range stack.Patterns {
		if i > 0 {
			b.WriteString("\n")
		}
		var cols []Op
		for _, op := range Ops {
			for _, e := range Events[p] {
				if e.Ops[op] != 0 {
					cols = append(cols, op)
					break
				}
			}
		}
		fmt.Fprintf(&b, "**%s**\n\n| event | what happens |", p)
		for _, op := range cols {
			fmt.Fprintf(&b, " `%s` |", op)
		}
		b.WriteString("\n|---|---|" + strings.Repeat("--:|", len(cols)) + "\n")
		for _, e := range Events[p] {
			fmt.Fprintf(&b, "| `%s` | %s |", e.Name, e.Doc)
			for _, op := range cols {
				if n := e.Ops[op]; n != 0 {
					fmt.Fprintf(&b, " %d |", n)
				} else {
					b.WriteString(" |")
				}
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// The markers around the generated table in docs/cost.md.
const (
	OpsDocPath  = "docs/cost.md"
	OpsDocBegin = "<!-- ops table: generated by `go generate ./internal/contract` from internal/contract/ops.go; do not edit -->"
	OpsDocEnd   = "<!-- end of ops table -->"
)

// SpliceOpsDoc returns doc with the text between the markers replaced by
// OpsMarkdown, or an error when the markers are missing.
func SpliceOpsDoc(doc string) (string, error) {
	i := strings.Index(doc, OpsDocBegin)
	j := strings.Index(doc, OpsDocEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("%s: the ops table markers are missing", OpsDocPath)
	}
	return doc[:i+len(OpsDocBegin)] + "\n\n" + OpsMarkdown() + "\n" + doc[j:], nil
}
