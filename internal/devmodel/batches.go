package devmodel

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Message Batches: the stand-in serves Anthropic's Message Batches API
// (POST /v1/messages/batches and the routes under it) with the shapes, checks
// and state machine Anthropic documents, in memory.
//
// Time is evaluated lazily: a batch stores its creation time and, per request,
// when that request finishes; every call that looks at a batch (retrieve, list,
// results, cancel, delete) settles it against Options.Now first. No timer and no
// goroutine runs, so tests move a fake clock instead of sleeping.
//
// A batch is in_progress until every request has finished (BatchOptions.Delay
// after creation, plus a scripted DelayMs), until it is canceled
// (canceling, then ended BatchOptions.CancelDelay after the cancel) or until it
// expires (BatchOptions.Expiry after creation). At its end the requests that
// had finished keep their result (succeeded or errored), the others are
// canceled (after a cancel) or expired. As Anthropic documents, the counts are
// all "processing" until the batch ends, and results_url is null until then.

// BatchesPath is the Message Batches API's collection.
const BatchesPath = "/v1/messages/batches"

// Limits of a batch, as Anthropic documents them.
const (
	MaxBatchRequests = 100_000
	maxBatchBody     = 256 << 20
	// DefaultBatchExpiry is how long a batch may process before it expires.
	DefaultBatchExpiry = 24 * time.Hour
)

// CustomID is the pattern a request's custom_id must match.
var CustomID = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// BatchOptions shape the Message Batches API. The zero value ends a batch at
// the first look after its creation, every request succeeded.
type BatchOptions struct {
	// Delay is a batch's processing time: its requests finish this long after
	// its creation (a scripted step's DelayMs adds to it per request).
	Delay time.Duration
	// CancelDelay is how long a batch stays canceling after a cancel before it
	// ends; requests that finish meanwhile keep their results.
	CancelDelay time.Duration
	// Expiry is how long after creation a batch that has not ended expires:
	// its unfinished requests become expired (default 24 h, as Anthropic's).
	Expiry time.Duration
	// Errors picks the requests whose result is errored, with an error of
	// ErrorType (default api_error).
	Errors    Selector
	ErrorType string
	// Expire picks the requests that never finish on their own: their batch
	// ends at its expiry (or its cancel) with them expired (or canceled).
	Expire Selector
}

// Selector picks requests of a batch: a request is picked when any of its
// rules picks it.
type Selector struct {
	// Rate picks this share (0..1) of the requests at random (Options.Seed
	// makes it reproducible).
	Rate float64
	// Every picks every Nth request of a batch (positions N, 2N, ... counted
	// from 1 in the order of the batch's requests); 0 picks none.
	Every int
	// Match picks the requests whose custom_id it matches.
	Match *regexp.Regexp
}

func (s Selector) check(name string) []error {
	var errs []error
	if s.Rate < 0 || s.Rate > 1 || math.IsNaN(s.Rate) {
		errs = append(errs, fmt.Errorf("batch %s rate %v is outside 0..1", name, s.Rate))
	}
	if s.Every < 0 {
		errs = append(errs, fmt.Errorf("batch %s every %d is negative (0 picks none)", name, s.Every))
	}
	return errs
}

func (s Selector) active() bool { return s.Rate > 0 || s.Every > 0 || s.Match != nil }

// pick reports whether the selector picks the request at index i (from 0).
// It draws from rng only when Rate is set, so a selector without one leaves
// the random sequence alone.
func (s Selector) pick(draw func() float64, i int, customID string) bool {
	picked := (s.Every > 0 && (i+1)%s.Every == 0) || (s.Match != nil && s.Match.MatchString(customID))
	if s.Rate > 0 && draw() < s.Rate {
		picked = true
	}
	return picked
}

// batchErrorTypes are the error types an errored batch result may carry.
var batchErrorTypes = []string{"invalid_request_error", "authentication_error", "permission_error", "not_found_error",
	"request_too_large", "rate_limit_error", "api_error", "overloaded_error"}

// Check reports batch options that make no sense.
func (o BatchOptions) Check() error {
	var errs []error
	for name, d := range map[string]time.Duration{"delay": o.Delay, "cancel delay": o.CancelDelay, "expiry": o.Expiry} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("batch %s %s is negative", name, d))
		}
	}
	errs = append(errs, o.Errors.check("error")...)
	errs = append(errs, o.Expire.check("expire")...)
	if o.ErrorType != "" && !slices.Contains(batchErrorTypes, o.ErrorType) {
		errs = append(errs, fmt.Errorf("batch error type %q is not one of %s", o.ErrorType, strings.Join(batchErrorTypes, ", ")))
	}
	return errors.Join(errs...)
}

func (o BatchOptions) withDefaults() BatchOptions {
	if o.Expiry <= 0 {
		o.Expiry = DefaultBatchExpiry
	}
	if o.ErrorType == "" {
		o.ErrorType = "api_error"
	}
	return o
}

// SetBatchOptions changes the Message Batches knobs while the stand-in
// serves. Batches created before keep the delays and expiry they were
// created with, and the results already chosen for their requests.
func (h *Handler) SetBatchOptions(b BatchOptions) error {
	if err := b.Check(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opts.Batch = b
	return nil
}

// BatchStats counts the Message Batches API's use.
type BatchStats struct {
	// Calls counts the calls to the batch routes by operation (create,
	// retrieve, list, results, cancel, delete), whatever their answer.
	Calls map[string]int64 `json:"calls"`
	// Created counts the batches created and Requests their requests.
	Created  int64 `json:"created"`
	Requests int64 `json:"requests"`
	// Results of the requests of ended batches, by type.
	Succeeded int64 `json:"succeeded"`
	Errored   int64 `json:"errored"`
	Canceled  int64 `json:"canceled"`
	Expired   int64 `json:"expired"`
	// Tokens of the succeeded requests (the batch-priced tokens).
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// Result types of a batch request.
const (
	resultSucceeded = "succeeded"
	resultErrored   = "errored"
	resultCanceled  = "canceled"
	resultExpired   = "expired"
)

// batchRequest is one request of a batch.
type batchRequest struct {
	customID string
	seq      int64
	input    string
	// finishes is when the request's processing ends, after the batch's
	// creation; never (a stuck request) when negative.
	finishes time.Duration
	// The result it has once it finished: succeeded with message, or errored.
	outcome   string
	message   json.RawMessage
	status    int // the Messages API status the result stands for
	errType   string
	errMsg    string
	inTokens  int
	outTokens int
	// result is the final result type, set when the batch ends.
	result string
}

// batch is one Message Batch.
type batch struct {
	id          string
	created     time.Time
	expires     time.Time
	cancelDelay time.Duration
	canceled    *time.Time // cancel_initiated_at
	ended       *time.Time
	requests    []batchRequest
	counts      RequestCounts
	resultsURL  string // the results' URL, set once ended
}

// MessageBatch is the Message Batches API's batch object.
type MessageBatch struct {
	ID                string        `json:"id"`
	Type              string        `json:"type"`
	ProcessingStatus  string        `json:"processing_status"`
	RequestCounts     RequestCounts `json:"request_counts"`
	EndedAt           *string       `json:"ended_at"`
	CreatedAt         string        `json:"created_at"`
	ExpiresAt         string        `json:"expires_at"`
	ArchivedAt        *string       `json:"archived_at"`
	CancelInitiatedAt *string       `json:"cancel_initiated_at"`
	ResultsURL        *string       `json:"results_url"`
}

// RequestCounts tallies a batch's requests by status.
type RequestCounts struct {
	Processing int `json:"processing"`
	Succeeded  int `json:"succeeded"`
	Errored    int `json:"errored"`
	Canceled   int `json:"canceled"`
	Expired    int `json:"expired"`
}

// BatchResult is one line of a batch's results.
type BatchResult struct {
	CustomID string `json:"custom_id"`
	Result   struct {
		Type    string          `json:"type"`
		Message json.RawMessage `json:"message,omitempty"`
		Error   *ErrorBody      `json:"error,omitempty"`
	} `json:"result"`
}

// batchStore holds the batches, guarded by Handler.mu.
type batchStore struct {
	byID  map[string]*batch
	order []*batch // by creation, oldest first
	n     int64    // batches created
}

// timestamp formats a time as Anthropic does (RFC 3339, UTC, microseconds).
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func timestampPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := timestamp(*t)
	return &s
}

// object is the batch as the API shows it.
func (b *batch) object() MessageBatch {
	status := "in_progress"
	switch {
	case b.ended != nil:
		status = "ended"
	case b.canceled != nil:
		status = "canceling"
	}
	m := MessageBatch{
		ID:                b.id,
		Type:              "message_batch",
		ProcessingStatus:  status,
		RequestCounts:     b.counts,
		EndedAt:           timestampPtr(b.ended),
		CreatedAt:         timestamp(b.created),
		ExpiresAt:         timestamp(b.expires),
		CancelInitiatedAt: timestampPtr(b.canceled),
	}
	if b.ended != nil {
		u := b.resultsURL
		m.ResultsURL = &u
	}
	return m
}

// settle ends the batch if its end has come by now, and returns what the
// observer should hear of it.
func (h *Handler) settle(b *batch, now time.Time) []CallInfo {
	if b.ended != nil {
		return nil
	}
	end, cause := b.expires, resultExpired
	if b.canceled != nil {
		if c := b.canceled.Add(b.cancelDelay); !c.After(end) {
			end, cause = c, resultCanceled
		}
	}
	natural := time.Duration(0)
	stuck := false
	for _, r := range b.requests {
		if r.finishes < 0 {
			stuck = true
			break
		}
		natural = max(natural, r.finishes)
	}
	if !stuck {
		if t := b.created.Add(natural); t.Before(end) {
			end = t
		}
	}
	if now.Before(end) {
		return nil
	}
	b.ended = &end
	b.counts = RequestCounts{}
	st := &h.stats.Batch
	infos := make([]CallInfo, 0, len(b.requests))
	for i := range b.requests {
		r := &b.requests[i]
		if r.finishes >= 0 && !b.created.Add(r.finishes).After(end) {
			r.result = r.outcome
		} else {
			r.result = cause
		}
		info := CallInfo{Seq: r.seq, Input: r.input, BatchID: b.id, CustomID: r.customID, Result: r.result}
		switch r.result {
		case resultSucceeded:
			b.counts.Succeeded++
			st.Succeeded++
			st.InputTokens += int64(r.inTokens)
			st.OutputTokens += int64(r.outTokens)
			info.Status = http.StatusOK
		case resultErrored:
			b.counts.Errored++
			st.Errored++
			info.Status, info.ErrorType = r.status, r.errType
		case resultCanceled:
			b.counts.Canceled++
			st.Canceled++
		case resultExpired:
			b.counts.Expired++
			st.Expired++
		}
		infos = append(infos, info)
	}
	h.log.Printf("%s ended (%s): %d succeeded, %d errored, %d canceled, %d expired", b.id,
		end.Sub(b.created).Round(time.Millisecond), b.counts.Succeeded, b.counts.Errored, b.counts.Canceled, b.counts.Expired)
	return infos
}

// observe hands the settled requests to Options.Observe (called without h.mu).
func (h *Handler) observe(infos []CallInfo) {
	if h.opts.Observe == nil {
		return
	}
	for _, ci := range infos {
		h.opts.Observe(ci)
	}
}

// batchRoute serves BatchesPath and the paths under it.
func (h *Handler) batchRoute(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, BatchesPath), "/")
	id, sub, _ := strings.Cut(rest, "/")
	var op, allow string
	switch {
	case rest == "":
		allow = "GET, POST"
		op = map[string]string{http.MethodPost: "create", http.MethodGet: "list"}[r.Method]
	case sub == "":
		allow = "GET, DELETE"
		op = map[string]string{http.MethodGet: "retrieve", http.MethodDelete: "delete"}[r.Method]
	case sub == "results":
		allow = "GET"
		op = map[string]string{http.MethodGet: "results"}[r.Method]
	case sub == "cancel":
		allow = "POST"
		op = map[string]string{http.MethodPost: "cancel"}[r.Method]
	default:
		writeError(w, http.StatusNotFound, "not_found_error", "no route "+r.URL.Path)
		return
	}
	if op == "" {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "use "+allow+" on "+r.URL.Path)
		return
	}
	h.mu.Lock()
	h.seq++
	reqID := fmt.Sprintf("req_standin_%06d", h.seq)
	h.stats.Batch.Calls[op]++
	h.mu.Unlock()
	w.Header().Set("Request-Id", reqID)

	// The checks of POST /v1/messages, in its order.
	var body []byte
	var no *refusal
	if op == "create" {
		body, no = readBody(w, r, maxBatchBody, "a message batch is limited to 256 MB")
	}
	if no == nil {
		no = checkHeaders(r)
	}
	if no != nil {
		writeError(w, no.status, no.typ, no.msg)
		return
	}
	h.batchOp(w, r, op, id, body, reqID)
}

// batchOp runs one Batches API operation on an authorised request.
func (h *Handler) batchOp(w http.ResponseWriter, r *http.Request, op, id string, body []byte, reqID string) {
	switch op {
	case "create":
		h.createBatch(w, r, body, reqID)
	case "list":
		h.listBatches(w, r)
	case "retrieve":
		h.withBatch(w, id, func(b *batch) (int, any) { return http.StatusOK, b.object() })
	case "cancel":
		h.withBatch(w, id, func(b *batch) (int, any) {
			if b.ended != nil {
				return errorAnswer(http.StatusBadRequest, "invalid_request_error",
					fmt.Sprintf("message batch %s has ended and can no longer be canceled", b.id))
			}
			if b.canceled == nil {
				now := h.opts.Now()
				b.canceled = &now
				h.log.Printf("%s canceling", b.id)
			}
			return http.StatusOK, b.object()
		})
	case "delete":
		h.withBatch(w, id, func(b *batch) (int, any) {
			if b.ended == nil {
				return errorAnswer(http.StatusBadRequest, "invalid_request_error",
					fmt.Sprintf("message batch %s is still processing; it can be deleted once it has ended (cancel it first)", b.id))
			}
			delete(h.batches.byID, b.id)
			h.batches.order = slices.DeleteFunc(h.batches.order, func(o *batch) bool { return o == b })
			h.log.Printf("%s deleted", b.id)
			return http.StatusOK, map[string]string{"id": b.id, "type": "message_batch_deleted"}
		})
	case "results":
		h.batchResults(w, id)
	}
}

func errorAnswer(status int, typ, msg string) (int, any) {
	var e ErrorBody
	e.Type = "error"
	e.Error.Type = typ
	e.Error.Message = msg
	return status, e
}

// withBatch settles the batch id, lets f act on it under the lock and writes
// f's answer; an unknown id is a 404.
func (h *Handler) withBatch(w http.ResponseWriter, id string, f func(*batch) (int, any)) {
	var status int
	var v any
	if h.underBatch(w, id, func(b *batch) { status, v = f(b) }) {
		writeJSON(w, status, v)
	}
}

// underBatch settles the batch id and runs f on it under the lock, then
// reports the settled calls; an unknown id writes a 404 and returns false.
func (h *Handler) underBatch(w http.ResponseWriter, id string, f func(*batch)) bool {
	h.mu.Lock()
	b := h.batches.byID[id]
	if b == nil {
		h.mu.Unlock()
		writeError(w, http.StatusNotFound, "not_found_error", fmt.Sprintf("message batch %q not found", id))
		return false
	}
	infos := h.settle(b, h.opts.Now())
	f(b)
	h.mu.Unlock()
	h.observe(infos)
	return true
}

// createBatch serves POST /v1/messages/batches.
func (h *Handler) createBatch(w http.ResponseWriter, r *http.Request, body []byte, reqID string) {
	reqs, err := parseBatch(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	// Scripted steps are taken in the batch's order, before the lock (record
	// and nextStep take the scripts' own lock).
	type scriptedStep struct {
		step Step
		ok   bool
	}
	steps := make([]scriptedStep, len(reqs))
	for i, rq := range reqs {
		token := h.record(r, rq.params)
		steps[i].step, steps[i].ok = h.nextStep(token)
	}

	h.mu.Lock()
	now := h.opts.Now()
	o := h.opts.Batch.withDefaults()
	h.batches.n++
	b := &batch{
		id:          fmt.Sprintf("msgbatch_standin%06d%s", h.batches.n, hex.EncodeToString(binaryUint32(h.rng.Uint32()))),
		created:     now,
		expires:     now.Add(o.Expiry),
		cancelDelay: o.CancelDelay,
		requests:    make([]batchRequest, len(reqs)),
	}
	b.resultsURL = "http://" + r.Host + BatchesPath + "/" + b.id + "/results"
	for i, rq := range reqs {
		h.seq++
		br := &b.requests[i]
		br.customID, br.seq, br.finishes = rq.customID, h.seq, o.Delay
		st := steps[i]
		req, perr := parseRequest(rq.params)
		if perr == nil && rq.stream {
			perr = errors.New("stream: streaming is not supported in a message batch")
		}
		switch {
		case perr != nil:
			// Anthropic checks params when it processes the batch: the
			// request ends errored.
			br.setError(http.StatusBadRequest, "invalid_request_error", perr.Error())
		case st.ok:
			br.input = lastUser(req)
			br.scripted(req, st.step)
		default:
			br.input = lastUser(req)
			draw := h.rng.Float64
			switch {
			case o.Expire.active() && o.Expire.pick(draw, i, br.customID):
				br.finishes = -1
				br.succeed(Reply(req, br.seq))
			case o.Errors.active() && o.Errors.pick(draw, i, br.customID):
				br.setError(errorStatus(o.ErrorType), o.ErrorType, Marker+" injected batch request error (--batch-error-*)")
			default:
				br.succeed(Reply(req, br.seq))
			}
		}
	}
	b.counts.Processing = len(b.requests)
	h.batches.byID[b.id] = b
	h.batches.order = append(h.batches.order, b)
	h.stats.Batch.Created++
	h.stats.Batch.Requests += int64(len(b.requests))
	obj := b.object()
	h.mu.Unlock()
	h.log.Printf("%s created %s: %d requests (delay %s, expiry %s)", reqID, b.id, len(b.requests), o.Delay, o.Expiry)
	writeJSON(w, http.StatusOK, obj)
}

func binaryUint32(v uint32) []byte {
	return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// errorStatus is the HTTP status a Messages call with this error type answers.
func errorStatus(typ string) int {
	for status, t := range errorTypes {
		if t == typ {
			return status
		}
	}
	return http.StatusInternalServerError
}

func (br *batchRequest) setError(status int, typ, msg string) {
	br.outcome, br.status, br.errType, br.errMsg = resultErrored, status, typ, msg
}

func (br *batchRequest) succeed(resp *Response) {
	br.outcome, br.status = resultSucceeded, http.StatusOK
	br.message, _ = json.Marshal(resp)
	br.inTokens, br.outTokens = resp.Usage.InputTokens, resp.Usage.OutputTokens
}

// scripted applies a scripted step to a batch request: a status is an errored
// result of its error type, a text replaces the reply's, a raw body is the
// message as is, hang never finishes (the request expires or is canceled),
// delayMs adds to the batch's processing delay and drop is an errored api_error.
func (br *batchRequest) scripted(req *Request, s Step) {
	br.finishes += msDuration(s.DelayMs)
	switch {
	case s.Hang:
		br.finishes = -1
		br.succeed(Reply(req, br.seq))
	case s.Drop:
		br.setError(http.StatusInternalServerError, "api_error", Marker+" scripted dropped connection")
	case s.Status != 0 && s.Status != http.StatusOK:
		br.setError(s.Status, ErrorType(s.Status), fmt.Sprintf("%s scripted error %d", Marker, s.Status))
	case s.RawBody != nil:
		if !json.Valid([]byte(*s.RawBody)) {
			br.setError(http.StatusInternalServerError, "api_error", Marker+" scripted rawBody is not JSON")
			return
		}
		br.outcome, br.status = resultSucceeded, http.StatusOK
		br.message = json.RawMessage(*s.RawBody)
	default:
		resp := Reply(req, br.seq)
		if s.Text != nil {
			text := strings.Repeat(*s.Text, max(1, s.Repeat))
			resp.Content = []ContentBlock{{Type: "text", Text: text}}
			resp.StopReason = "end_turn"
			resp.Usage.OutputTokens = Tokens(text)
		}
		br.succeed(resp)
	}
}

// parsedRequest is one entry of a create call's requests.
type parsedRequest struct {
	customID string
	params   []byte
	stream   bool
}

// parseBatch validates a create call's body as Anthropic does when it accepts
// a batch: requests is a list of 1 to 100,000 objects, each with exactly a
// custom_id (unique, ^[a-zA-Z0-9_-]{1,64}$) and a params object. The params
// themselves are checked when the batch is processed: an invalid one is an
// errored result, not a refused batch.
func parseBatch(body []byte) ([]parsedRequest, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, errors.New("the request body is not a JSON object")
	}
	for k := range raw {
		if k != "requests" {
			return nil, fmt.Errorf("%s: Extra inputs are not permitted", k)
		}
	}
	rr, ok := raw["requests"]
	if !ok {
		return nil, errors.New("requests: Field required")
	}
	var list []json.RawMessage
	if err := json.Unmarshal(rr, &list); err != nil || list == nil {
		return nil, errors.New("requests: Input should be a valid list")
	}
	if len(list) == 0 {
		return nil, errors.New("requests: List should have at least 1 item after validation, not 0")
	}
	if len(list) > MaxBatchRequests {
		return nil, fmt.Errorf("requests: List should have at most %d items after validation, not %d", MaxBatchRequests, len(list))
	}
	seen := make(map[string]int, len(list))
	out := make([]parsedRequest, len(list))
	for i, item := range list {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(item, &fields); err != nil || fields == nil {
			return nil, fmt.Errorf("requests.%d: Input should be a valid dictionary", i)
		}
		for k := range fields {
			if k != "custom_id" && k != "params" {
				return nil, fmt.Errorf("requests.%d.%s: Extra inputs are not permitted", i, k)
			}
		}
		c, ok := fields["custom_id"]
		if !ok {
			return nil, fmt.Errorf("requests.%d.custom_id: Field required", i)
		}
		var id string
		if err := json.Unmarshal(c, &id); err != nil {
			return nil, fmt.Errorf("requests.%d.custom_id: Input should be a valid string", i)
		}
		if !CustomID.MatchString(id) {
			return nil, fmt.Errorf("requests.%d.custom_id: String should match pattern '%s'", i, CustomID)
		}
		if j, dup := seen[id]; dup {
			return nil, fmt.Errorf("requests.%d.custom_id: %q is also the custom_id of requests.%d; custom_id must be unique within a message batch", i, id, j)
		}
		seen[id] = i
		p, ok := fields["params"]
		if !ok {
			return nil, fmt.Errorf("requests.%d.params: Field required", i)
		}
		var params map[string]json.RawMessage
		if err := json.Unmarshal(p, &params); err != nil || params == nil {
			return nil, fmt.Errorf("requests.%d.params: Input should be a valid dictionary", i)
		}
		var stream bool
		_ = json.Unmarshal(params["stream"], &stream)
		out[i] = parsedRequest{customID: id, params: p, stream: stream}
	}
	return out, nil
}

// listBatches serves GET /v1/messages/batches: newest first, limit (1..1000,
// default 20), after_id (the page after that batch: older ones) or before_id
// (the page before it: newer ones).
func (h *Handler) listBatches(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 20
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "limit: Input should be an integer from 1 to 1000")
			return
		}
		limit = n
	}
	after, before := q.Get("after_id"), q.Get("before_id")
	if after != "" && before != "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "after_id and before_id cannot be used together")
		return
	}
	h.mu.Lock()
	now := h.opts.Now()
	var infos []CallInfo
	// newest first
	all := make([]*batch, len(h.batches.order))
	for i, b := range h.batches.order {
		all[len(all)-1-i] = b
		infos = append(infos, h.settle(b, now)...)
	}
	page, hasMore, bad := batchPage(all, after, before, limit)
	data := make([]MessageBatch, len(page))
	for i, b := range page {
		data[i] = b.object()
	}
	h.mu.Unlock()
	h.observe(infos)
	if bad != "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", bad)
		return
	}
	out := struct {
		Data    []MessageBatch `json:"data"`
		HasMore bool           `json:"has_more"`
		FirstID *string        `json:"first_id"`
		LastID  *string        `json:"last_id"`
	}{Data: data, HasMore: hasMore}
	if len(data) > 0 {
		out.FirstID, out.LastID = &data[0].ID, &data[len(data)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// batchPage takes a page of at most limit batches from all (newest first):
// the ones after the batch after, else those before the batch before, else the
// first; bad says which cursor names no batch.
func batchPage(all []*batch, after, before string, limit int) (page []*batch, hasMore bool, bad string) {
	lo, hi := 0, len(all) // the window the page is taken from
	cursor, name := after, "after_id"
	if before != "" {
		cursor, name = before, "before_id"
	}
	if cursor != "" {
		i := slices.IndexFunc(all, func(b *batch) bool { return b.id == cursor })
		switch {
		case i < 0:
			return nil, false, fmt.Sprintf("%s: no message batch %q", name, cursor)
		case before != "":
			hi = i
		default:
			lo = i + 1
		}
	}
	page = all[lo:hi]
	switch {
	case len(page) <= limit:
		return page, false, ""
	case before != "":
		return page[len(page)-limit:], true, ""
	}
	return page[:limit], true, ""
}

// batchResults serves GET /v1/messages/batches/{id}/results: one JSON line
// per request, in the batch's order, once the batch has ended.
func (h *Handler) batchResults(w http.ResponseWriter, id string) {
	var ended bool
	var status string
	var requests []batchRequest
	found := h.underBatch(w, id, func(b *batch) {
		ended = b.ended != nil
		status = b.object().ProcessingStatus
		// Once ended, a batch's requests no longer change: read them unlocked.
		requests = b.requests
	})
	if !found {
		return
	}
	if !ended {
		writeError(w, http.StatusNotFound, "not_found_error",
			fmt.Sprintf("message batch %s has no results yet: its processing_status is %s (results_url is null until it has ended)", id, status))
		return
	}
	w.Header().Set("Content-Type", "application/binary")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	for _, rq := range requests {
		var line BatchResult
		line.CustomID = rq.customID
		line.Result.Type = rq.result
		switch rq.result {
		case resultSucceeded:
			line.Result.Message = rq.message
		case resultErrored:
			e := &ErrorBody{Type: "error"}
			e.Error.Type, e.Error.Message = rq.errType, rq.errMsg
			line.Result.Error = e
		}
		if enc.Encode(line) != nil {
			return
		}
	}
	_ = bw.Flush()
}

// BatchOptionsPath reads (GET) and replaces (POST) the Message Batches knobs
// of a running stand-in, as BatchOptionsJSON: what SetBatchOptions does, for
// tests that run the stand-in as a process.
const BatchOptionsPath = "/_stand-in/batch-options"

// BatchOptionsJSON is BatchOptions on the wire (durations in milliseconds,
// patterns as Go regexps). Omitted fields are zero: a POST replaces every knob.
type BatchOptionsJSON struct {
	DelayMs       int64        `json:"delayMs"`
	CancelDelayMs int64        `json:"cancelDelayMs"`
	ExpiryMs      int64        `json:"expiryMs"`
	Errors        SelectorJSON `json:"errors"`
	ErrorType     string       `json:"errorType"`
	Expire        SelectorJSON `json:"expire"`
}

// SelectorJSON is a Selector on the wire.
type SelectorJSON struct {
	Rate  float64 `json:"rate"`
	Every int     `json:"every"`
	Match string  `json:"match"`
}

func (s SelectorJSON) selector(name string) (Selector, error) {
	sel := Selector{Rate: s.Rate, Every: s.Every}
	if s.Match != "" {
		re, err := regexp.Compile(s.Match)
		if err != nil {
			return sel, fmt.Errorf("%s.match: %w", name, err)
		}
		sel.Match = re
	}
	return sel, nil
}

func selectorJSON(s Selector) SelectorJSON {
	j := SelectorJSON{Rate: s.Rate, Every: s.Every}
	if s.Match != nil {
		j.Match = s.Match.String()
	}
	return j
}

func (h *Handler) batchOptionsRoute(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		var in BatchOptionsJSON
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "batch options: "+err.Error())
			return
		}
		errSel, err1 := in.Errors.selector("errors")
		expSel, err2 := in.Expire.selector("expire")
		if err := errors.Join(err1, err2); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "batch options: "+err.Error())
			return
		}
		o := BatchOptions{
			Delay: msDuration64(in.DelayMs), CancelDelay: msDuration64(in.CancelDelayMs), Expiry: msDuration64(in.ExpiryMs),
			Errors: errSel, ErrorType: in.ErrorType, Expire: expSel,
		}
		if err := h.SetBatchOptions(o); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "batch options: "+err.Error())
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "use GET or POST on "+BatchOptionsPath)
		return
	}
	o := h.Options().Batch.withDefaults()
	writeJSON(w, http.StatusOK, BatchOptionsJSON{
		DelayMs: o.Delay.Milliseconds(), CancelDelayMs: o.CancelDelay.Milliseconds(), ExpiryMs: o.Expiry.Milliseconds(),
		Errors: selectorJSON(o.Errors), ErrorType: o.ErrorType, Expire: selectorJSON(o.Expire),
	})
}

func msDuration64(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
