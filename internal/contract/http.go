package contract

import (
	"bytes"
	"fmt"
	"strings"
)

// The Workers' HTTP surface as both sides read it: the states GET /jobs/<id>
// shows, the error codes of {"error":{"code",...}}, and the admin routes.
// workers-src/src/contract.gen.ts carries them as JOB_STATES, ERROR_CODES and
// ADMIN_ROUTES (lib/jobs.ts's JobState and lib/errors.ts's ErrorCode are
// those types), and the Go callers of the Workers (verify, jobs) use these
// constants.

// StateDoc describes one job state.
type StateDoc struct {
	State JobState
	// Terminal: the job ended; a message of it is acked, never run again.
	Terminal bool
	// Written: some Worker writes or shows it (the workflow runner shows
	// running from the job's instance and never writes it in R2).
	Written bool
	Doc     string
}

// CodeDoc describes one error code: the HTTP status it comes with.
type CodeDoc struct {
	Code   ErrorCode
	Status int
	Doc    string
}

// Route is one admin route.
type Route struct {
	// Name is its key in ADMIN_ROUTES.
	Name   string
	Method string
	Path   string
	// Patterns that serve it (when the stack has a budget: the spend guard's routes).
	Patterns []string
	Doc      string
}

// JobState is a job's status in GET /jobs/<id> (event-agent, async-pipeline).
type JobState string

// The states of a job under way (JobStates says which a Worker writes).
const (
	// JobQueued: waiting for the model call, or queued again after a failed
	// attempt (then with error). A job with no record yet is queued by its id.
	JobQueued JobState = "queued"
	// JobRunning: async-pipeline: a delivery claimed the job's model call
	// until lease_until (an R2 write per delivery; workers-src/src/lib/claim.ts).
	// event-agent on runner: workflow: the job's instance runs, shown by GET
	// /jobs/:id once it asks the instance (past the age window), never written.
	JobRunning JobState = "running"
	// JobSubmitted (batch mode): in the Message Batch batch_id.
	JobSubmitted JobState = "submitted"
	// JobBudgetExhausted is a parked job (async-pipeline): the month's model
	// budget was spent when its turn came; its input is kept in the spend
	// store until POST /admin/jobs/resume queues it again.
	JobBudgetExhausted JobState = "budget_exhausted"
)

// The states a job ends in.
const (
	// JobDone: the shaped result is in result.
	JobDone JobState = "done"
	// JobFailed: the model API refused the request, or the job expired.
	JobFailed JobState = "failed"
	// JobDead: retries exhausted; the record keeps the input.
	JobDead JobState = "dead"
)

// JobStates lists every job state.
var JobStates = []StateDoc{
	{JobQueued, false, true, "waiting for the model call, or queued again after a failed attempt (then with error)"},
	{JobRunning, false, true, "async-pipeline: a delivery claimed the model call (one R2 write per delivery), so a duplicate delivery waits instead of paying again; event-agent on runner: workflow: the job's instance runs (GET asks it past the age window; never written in R2)"},
	{JobSubmitted, false, true, "batch mode: in the Message Batch batch_id, until the cron poller reads its result"},
	{JobDone, true, true, "the shaped result is in result"},
	{JobFailed, true, true, "the model API refused the request, or the job expired; error says why"},
	{JobDead, true, true, "retries exhausted; the record keeps the input"},
	{JobBudgetExhausted, false, true, "parked: the month's model budget was spent; resumed by POST /admin/jobs/resume"},
}

// ErrorCode is the code of a Worker's JSON error.
type ErrorCode string

// The error codes of a request the Worker refuses to read.
const (
	ErrInvalidJSON          ErrorCode = "invalid_json"
	ErrInvalidInput         ErrorCode = "invalid_input"
	ErrInputTooLarge        ErrorCode = "input_too_large"
	ErrUnsupportedMediaType ErrorCode = "unsupported_media_type"
)

// The error codes of a route or a caller the Worker does not serve.
const (
	ErrMethodNotAllowed ErrorCode = "method_not_allowed"
	ErrNotFound         ErrorCode = "not_found"
	ErrUnauthorized     ErrorCode = "unauthorized"
	ErrInvalidKey       ErrorCode = "invalid_key"
	ErrForbidden        ErrorCode = "forbidden"
)

// The error codes of a limit reached: retry after Retry-After.
const (
	ErrRateLimited     ErrorCode = "rate_limited"
	ErrBudgetExhausted ErrorCode = "budget_exhausted"
)

// The error codes of a failure behind the Worker, or in it.
const (
	ErrUpstream    ErrorCode = "upstream_error"
	ErrUnavailable ErrorCode = "unavailable"
	ErrInternal    ErrorCode = "internal"
)

// ErrorCodes lists every error code.
var ErrorCodes = []CodeDoc{
	{ErrMethodNotAllowed, 405, "with Allow"},
	{ErrInvalidJSON, 400, "the body is not JSON"},
	{ErrInvalidInput, 400, "the body's fields are wrong"},
	{ErrInputTooLarge, 413, "over MAX_INPUT_CHARS or the body cap"},
	{ErrUnsupportedMediaType, 415, "not application/json"},
	{ErrNotFound, 404, "no such route or job"},
	{ErrUnauthorized, 401, "an admin route: the bearer token (AUTH_TOKEN) is missing or wrong"},
	{ErrInvalidKey, 401, "with WWW-Authenticate: a product with keys, and the customer key is missing, malformed, unknown, expired or revoked"},
	{ErrRateLimited, 429, "with Retry-After"},
	{ErrBudgetExhausted, 429, "with Retry-After, resets_at and scope (product, stack, or customer: the key's own monthly budget): the month's model budget is spent (the figures are the owner's: GET /admin/budget)"},
	{ErrForbidden, 403, "the route needs a setting the stack lacks (admin routes without AUTH_TOKEN)"},
	{ErrUpstream, 502, "the model API failed (edge-cache answers synchronously): request_id (and x-request-id), upstream_status, attempts, retry_after; never the API's own text, which goes to the log"},
	{ErrUnavailable, 503, "a platform service (the job queue, the spend store) failed; retry later"},
	{ErrInternal, 500, "a bug"},
}

// The admin routes' paths (/admin/* needs AUTH_TOKEN; without it they are 403).
const (
	AdminBudgetPath     = "/admin/budget"
	AdminJobsPath       = "/admin/jobs"
	AdminJobsResumePath = "/admin/jobs/resume"
)

// AdminRoutes lists the admin routes, all the spend guard's (present when the stack has a budget).
var AdminRoutes = []Route{
	{"budget", "GET", AdminBudgetPath, []string{"event-agent", "async-pipeline", "edge-cache"}, "the month's spend and budgets"},
	{"jobs", "GET", AdminJobsPath, []string{"async-pipeline"}, "a page of the parked jobs (?status=budget_exhausted&limit=N&cursor=C)"},
	{"jobsResume", "POST", AdminJobsResumePath, []string{"async-pipeline"}, `re-queues parked jobs (optional body {"limit":N})`},
}

// Terminal reports whether a job in state s has ended.
func (s JobState) Terminal() bool {
	for _, d := range JobStates {
		if d.State == s {
			return d.Terminal
		}
	}
	return false
}

// httpTypeScript renders the HTTP part of contract.gen.ts.
func httpTypeScript(js func(any) string) []byte {
	var b bytes.Buffer
	var states, terminal []string
	for _, d := range JobStates {
		states = append(states, js(string(d.State)))
		if d.Terminal {
			terminal = append(terminal, js(string(d.State)))
		}
	}
	b.WriteString("/** Every job state GET /jobs/:id may show (internal/contract JobStates). */\n")
	fmt.Fprintf(&b, "export const JOB_STATES = [%s] as const;\nexport type JobState = (typeof JOB_STATES)[number];\n\n", strings.Join(states, ", "))
	b.WriteString("/** The states a job ends in: a message of such a job is acked, never run again. */\n")
	fmt.Fprintf(&b, "export const TERMINAL_JOB_STATES = [%s] as const;\n\n", strings.Join(terminal, ", "))
	b.WriteString("/** Every error code of {\"error\":{\"code\",\"message\"}}, with its HTTP status. */\nexport const ERROR_CODES = {\n")
	for _, c := range ErrorCodes {
		fmt.Fprintf(&b, "  /** %s */\n  %s: %d,\n", c.Doc, c.Code, c.Status)
	}
	b.WriteString("} as const;\nexport type ErrorCode = keyof typeof ERROR_CODES;\n\n")
	b.WriteString("/** The admin routes (/admin/* needs AUTH_TOKEN), all the spend guard's. */\nexport const ADMIN_ROUTES = {\n")
	for _, r := range AdminRoutes {
		fmt.Fprintf(&b, "  /** %s */\n  %s: { method: %s, path: %s },\n", r.Doc, r.Name, js(r.Method), js(r.Path))
	}
	b.WriteString("} as const;\n")
	return b.Bytes()
}
