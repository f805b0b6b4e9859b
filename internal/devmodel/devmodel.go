// Package devmodel is the stand-in for Anthropic's Messages API (and its
// Message Batches API) that `zerocost dev` starts when no ANTHROPIC_API_KEY is
// set. It answers POST /v1/messages with Anthropic's request checks, response
// shape and error shapes, and a deterministic reply derived from the prompt,
// so the Workers run end to end offline and for free.
//
// It says what it is everywhere: every reply text starts with "[zerocost
// stand-in model]", every answer carries the header x-zerocost-stand-in: true,
// and every call is logged with the prefix "stand-in model:".
//
// Options shape it for reliability tests: a fixed latency, a share of failing
// calls (500 api_error or 529 overloaded_error, and optionally some 429
// rate_limit_error with retry-after) and a requests-per-minute cap (429
// rate_limit_error with retry-after). GET /_stand-in/stats reports the calls it
// answered, by status; DELETE /_stand-in/stats resets the counters.
//
// Tests script it per scenario (script.go): a token in a request's body picks
// the scenario, whose scripted steps answer its calls (an error status, a
// retry-after, a text, a hang, a dropped connection, a delay, a raw body) and
// whose calls are recorded. Go tests use Handler.Script and Handler.Calls; the
// Worker tests in workers-src run the same stand-in as a process
// (./cmd/standin) and use POST /_stand-in/script and GET /_stand-in/calls.
//
// It also serves the Message Batches API (batches.go): POST /v1/messages/batches
// (create), GET /v1/messages/batches (list, newest first, limit/after_id/
// before_id), GET and DELETE /v1/messages/batches/{id} (retrieve; delete once
// ended), GET .../{id}/results (JSONL, once ended) and POST .../{id}/cancel,
// with Anthropic's checks (custom_id ^[a-zA-Z0-9_-]{1,64}$ and unique, 1 to
// 100,000 requests, params an object; the params themselves are checked at
// processing, an invalid one becomes an errored result) and its states
// (in_progress, canceling, ended; counts all "processing" until the end).
// Options.Batch sets the knobs: a processing delay, a cancel delay, the expiry
// (24 h by default), and which requests error or never finish (by rate, every
// Nth, or custom_id pattern); POST /_stand-in/batch-options changes them while
// it runs. A batch's state is computed from its timestamps against Options.Now
// at every call that reads it, so tests move a fake clock and never sleep.
// Each request is answered as POST /v1/messages would answer it (the same
// Reply, the same usage, the same scripted steps by token), so a cost report
// can price batch tokens from the results. docs/standin.md describes the
// stand-in for users.
//
// It accepts the API key as x-api-key (what the Workers and older SDKs send)
// or as Authorization: Bearer (what Anthropic's current TypeScript SDK sends),
// on every route of the Messages and Message Batches APIs.
//
// The stand-in is for tests and `zerocost dev` only: a deployed Worker calls
// Anthropic's API, never this.
package devmodel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Marker starts every reply text, so no one mistakes it for a model's answer.
const Marker = "[zerocost stand-in model]"

// Header is set to "true" on every response of the stand-in.
const Header = "X-Zerocost-Stand-In"

// Paths the stand-in serves.
const (
	MessagesPath = "/v1/messages"
	StatsPath    = "/_stand-in/stats"
)

// maxBody caps a request body, like the real API's request size limit.
const maxBody = 32 << 20

// Options shape the stand-in's behaviour. The zero value answers every valid
// call at once.
type Options struct {
	// Latency delays every answer to POST /v1/messages.
	Latency time.Duration
	// TokensPerSecond, when positive, makes a reply take as long as a model
	// writing that many output tokens a second would: a reply of N tokens is
	// sent N/TokensPerSecond seconds after Latency (scripted text replies
	// too). Published speeds: about 55-65 for Sonnet-class models, 115 for
	// Haiku 4.5 (prices/speeds.json).
	TokensPerSecond float64
	// ErrorRate is the share (0..1) of valid calls that fail with 500 api_error
	// or 529 overloaded_error (or 429, see RateLimitShare).
	ErrorRate float64
	// RateLimitShare is the share (0..1) of those injected failures that are
	// 429 rate_limit_error with a retry-after of RetryAfter instead; the rest
	// are 500 or 529, half each. 0 injects no 429s.
	RateLimitShare float64
	// RetryAfter is the retry-after of injected 429s, rounded up to whole
	// seconds (default 1 s). The RPM cap computes its own.
	RetryAfter time.Duration
	// RPM caps the calls per rolling minute; past it, 429 rate_limit_error with
	// retry-after. 0 means no cap.
	RPM int
	// Log receives one line per call; nil discards them.
	Log io.Writer
	// Seed makes the error injection reproducible; 0 picks one at random.
	Seed uint64
	// Now replaces the clock (tests of the rate limit).
	Now func() time.Time
	// Observe, when set, is called once per call to POST /v1/messages, after
	// the answer is written (reliability tests count calls per input with it).
	// It runs on the request's goroutine: keep it quick. It is also called
	// once per request of a message batch when the batch ends (see CallInfo).
	Observe func(CallInfo)
	// Arrived, when set, is called once per call to POST /v1/messages as it
	// arrives, before it is answered (a test waits on it to act while a call
	// is under way). Keep it quick.
	Arrived func(seq int64)
	// Batch shapes the Message Batches API (batches.go).
	Batch BatchOptions
}

// CallInfo describes one call to POST /v1/messages, for Options.Observe.
type CallInfo struct {
	// Seq numbers the calls from 1.
	Seq int64
	// Status is the HTTP status answered (499 when the client went away first).
	Status int
	// ErrorType is Anthropic's error type of a failed call ("" on success).
	ErrorType string
	// Input is the last user message of a valid request ("" when the request
	// was rejected before it was read).
	Input string
	// Retry is the request's X-Stainless-Retry-Count (0 when absent): a
	// client's n-th retry of one call, sent because the attempt before it
	// failed as far as that client knows (an error, or no answer in time).
	Retry int
	// BatchID and CustomID name the batch request this is, for a request of
	// a message batch; Result is its result type (succeeded, errored,
	// canceled or expired). Status and ErrorType are then those of the
	// Messages call the result stands for (200, or the error's), and Status
	// is 0 for canceled and expired requests, which were never processed.
	BatchID  string
	CustomID string
	Result   string
}

// Check reports options that make no sense.
func (o Options) Check() error {
	var errs []error
	if o.Latency < 0 {
		errs = append(errs, fmt.Errorf("model latency %s is negative", o.Latency))
	}
	if o.TokensPerSecond < 0 || math.IsNaN(o.TokensPerSecond) || math.IsInf(o.TokensPerSecond, 0) {
		errs = append(errs, fmt.Errorf("model speed %v tokens a second is not a positive number", o.TokensPerSecond))
	}
	if o.ErrorRate < 0 || o.ErrorRate > 1 || math.IsNaN(o.ErrorRate) {
		errs = append(errs, fmt.Errorf("model error rate %v is outside 0..1", o.ErrorRate))
	}
	if o.RateLimitShare < 0 || o.RateLimitShare > 1 || math.IsNaN(o.RateLimitShare) {
		errs = append(errs, fmt.Errorf("model 429 share %v is outside 0..1", o.RateLimitShare))
	}
	if o.RetryAfter < 0 {
		errs = append(errs, fmt.Errorf("model retry-after %s is negative", o.RetryAfter))
	}
	if o.RPM < 0 {
		errs = append(errs, fmt.Errorf("model rpm %d is negative (0 means no limit)", o.RPM))
	}
	if err := o.Batch.Check(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Stats counts the calls to POST /v1/messages.
type Stats struct {
	StandIn bool `json:"stand_in"`
	// Total counts every call, whatever its answer.
	Total int64 `json:"total"`
	// ByStatus counts calls by HTTP status ("200", "400", "429", "500", "529", ...).
	ByStatus map[string]int64 `json:"by_status"`
	// ByErrorType counts failed calls by Anthropic error type.
	ByErrorType map[string]int64 `json:"by_error_type"`
	// Tokens of the successful answers.
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	// Batch counts the Message Batches API's calls and results.
	Batch BatchStats `json:"batch"`
}

// Handler is the stand-in as an http.Handler.
type Handler struct {
	opts Options
	log  *log.Logger

	mu       sync.Mutex
	rng      *rand.Rand
	accepted []time.Time // calls admitted in the last minute (RPM window)
	seq      int64
	stats    Stats
	batches  batchStore

	scripts  scripts
	quit     chan struct{} // closed when the server stops: hanging calls end
	quitOnce sync.Once
}

// NewHandler returns the stand-in's handler.
func NewHandler(opts Options) *Handler {
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Second
	}
	w := opts.Log
	if w == nil {
		w = io.Discard
	}
	h := &Handler{
		opts: opts,
		log:  log.New(w, "stand-in model: ", 0),
		rng:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		quit: make(chan struct{}),
	}
	h.batches.byID = map[string]*batch{}
	h.resetLocked()
	return h
}

// Options returns the options the handler runs with.
func (h *Handler) Options() Options {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.opts
}

// SetFaults changes the injected failures while the stand-in serves: the
// share of failing calls and the share of those that are 429s (see Options).
func (h *Handler) SetFaults(errorRate, rateLimitShare float64) error {
	o := Options{ErrorRate: errorRate, RateLimitShare: rateLimitShare}
	if err := o.Check(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opts.ErrorRate, h.opts.RateLimitShare = errorRate, rateLimitShare
	return nil
}

// Stats returns a copy of the counters.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stats
	s.ByStatus = make(map[string]int64, len(h.stats.ByStatus))
	for k, v := range h.stats.ByStatus {
		s.ByStatus[k] = v
	}
	s.ByErrorType = make(map[string]int64, len(h.stats.ByErrorType))
	for k, v := range h.stats.ByErrorType {
		s.ByErrorType[k] = v
	}
	s.Batch.Calls = make(map[string]int64, len(h.stats.Batch.Calls))
	for k, v := range h.stats.Batch.Calls {
		s.Batch.Calls[k] = v
	}
	return s
}

// ResetStats zeroes the counters (the RPM window is kept).
func (h *Handler) ResetStats() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resetLocked()
}

func (h *Handler) resetLocked() {
	h.stats = Stats{StandIn: true, ByStatus: map[string]int64{}, ByErrorType: map[string]int64{},
		Batch: BatchStats{Calls: map[string]int64{}}}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(Header, "true")
	switch r.URL.Path {
	case MessagesPath:
		h.messages(w, r)
	case StatsPath:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			writeJSON(w, http.StatusOK, h.Stats())
		case http.MethodDelete:
			h.ResetStats()
			writeJSON(w, http.StatusOK, h.Stats())
		default:
			w.Header().Set("Allow", "GET, DELETE")
			writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "use GET or DELETE on "+StatsPath)
		}
	case ScriptPath, CallsPath:
		h.control(w, r)
	case BatchOptionsPath:
		h.batchOptionsRoute(w, r)
	default:
		if r.URL.Path == BatchesPath || strings.HasPrefix(r.URL.Path, BatchesPath+"/") {
			h.batchRoute(w, r)
			return
		}
		writeError(w, http.StatusNotFound, "not_found_error", Marker+" serves POST "+MessagesPath+", "+BatchesPath+" (Message Batches), GET "+StatsPath+
			", POST "+ScriptPath+", GET "+CallsPath+" and "+BatchOptionsPath+" only")
	}
}

// stop ends the calls that hang or wait (the server is stopping).
func (h *Handler) stop() { h.quitOnce.Do(func() { close(h.quit) }) }

// call is one POST /v1/messages as the handler sees it.
type call struct {
	status    int
	errType   string
	inTokens  int
	outTokens int
	input     string // the last user message, once the request is parsed
}

func (h *Handler) messages(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h.mu.Lock()
	h.seq++
	seq := h.seq
	h.mu.Unlock()
	reqID := fmt.Sprintf("req_standin_%06d", seq)
	w.Header().Set("Request-Id", reqID)
	if h.opts.Arrived != nil {
		h.opts.Arrived(seq)
	}

	c := h.serve(w, r, seq)

	h.mu.Lock()
	h.stats.Total++
	h.stats.ByStatus[strconv.Itoa(c.status)]++
	if c.errType != "" {
		h.stats.ByErrorType[c.errType]++
	} else {
		h.stats.InputTokens += int64(c.inTokens)
		h.stats.OutputTokens += int64(c.outTokens)
	}
	h.mu.Unlock()
	if c.errType != "" {
		h.log.Printf("%s %d %s (%s)", reqID, c.status, c.errType, time.Since(start).Round(time.Millisecond))
	} else {
		h.log.Printf("%s %d: %d input, %d output tokens (%s)", reqID, c.status, c.inTokens, c.outTokens, time.Since(start).Round(time.Millisecond))
	}
	if h.opts.Observe != nil {
		retry, _ := strconv.Atoi(r.Header.Get("X-Stainless-Retry-Count"))
		h.opts.Observe(CallInfo{Seq: seq, Status: c.status, ErrorType: c.errType, Input: c.input, Retry: max(0, retry)})
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, seq int64) call {
	fail := func(status int, typ, msg string) call {
		writeError(w, status, typ, msg)
		return call{status: status, errType: typ}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return fail(http.StatusMethodNotAllowed, "invalid_request_error", "use POST on "+MessagesPath)
	}
	body, no := readBody(w, r, maxBody, "request exceeds the maximum allowed size")
	if no != nil {
		return fail(no.status, no.typ, no.msg)
	}
	token := h.record(r, body)
	if no := checkHeaders(r); no != nil {
		return fail(no.status, no.typ, no.msg)
	}
	req, err := parseRequest(body)
	if err != nil {
		return fail(http.StatusBadRequest, "invalid_request_error", err.Error())
	}
	if step, ok := h.nextStep(token); ok {
		return h.scripted(w, r, req, seq, step)
	}

	retryAfter, injected, remaining := h.admit()
	if h.opts.RPM > 0 {
		w.Header().Set("Anthropic-Ratelimit-Requests-Limit", strconv.Itoa(h.opts.RPM))
		w.Header().Set("Anthropic-Ratelimit-Requests-Remaining", strconv.Itoa(remaining))
	}
	input := lastUser(req)
	failIn := func(status int, typ, msg string) call {
		c := fail(status, typ, msg)
		c.input = input
		return c
	}
	if err := sleepOrQuit(r, h.quit, h.opts.Latency); err != nil || r.Context().Err() != nil {
		// The client went away before the answer (its timeout): a failed call.
		return call{status: 499, errType: "client_closed_request", input: input}
	}
	switch {
	case injected == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(h.opts.RetryAfter.Seconds())))))
		return failIn(injected, "rate_limit_error", Marker+" injected rate limit (--model-429-share)")
	case retryAfter > 0:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		return failIn(http.StatusTooManyRequests, "rate_limit_error",
			fmt.Sprintf("%s this stand-in allows %d requests per minute (--model-rpm); retry after %d s", Marker, h.opts.RPM, retryAfter))
	case injected == http.StatusInternalServerError:
		return failIn(injected, "api_error", Marker+" injected internal server error (--model-error-rate)")
	case injected == 529:
		return failIn(injected, "overloaded_error", Marker+" injected overload (--model-error-rate)")
	}

	resp := Reply(req, seq)
	if err := sleepOrQuit(r, h.quit, h.writingTime(resp.Usage.OutputTokens)); err != nil {
		return call{status: 499, errType: "client_closed_request", input: input}
	}
	writeJSON(w, http.StatusOK, resp)
	return call{status: http.StatusOK, inTokens: resp.Usage.InputTokens, outTokens: resp.Usage.OutputTokens, input: input}
}

// admit applies the RPM cap, then the injected failures: retryAfter is the
// seconds until the cap admits the call (0: admitted), injected the status
// of an injected failure (0: none), remaining what the cap allows (-1: no cap).
func (h *Handler) admit() (retryAfter, injected, remaining int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.opts.Now()
	if h.opts.RPM > 0 {
		cut := now.Add(-time.Minute)
		i := 0
		for i < len(h.accepted) && !h.accepted[i].After(cut) {
			i++
		}
		h.accepted = h.accepted[i:]
		if len(h.accepted) >= h.opts.RPM {
			wait := h.accepted[0].Add(time.Minute).Sub(now)
			retryAfter = max(1, int(math.Ceil(wait.Seconds())))
		} else {
			h.accepted = append(h.accepted, now)
		}
	}
	if retryAfter == 0 && h.opts.ErrorRate > 0 && h.rng.Float64() < h.opts.ErrorRate {
		switch {
		case h.opts.RateLimitShare > 0 && h.rng.Float64() < h.opts.RateLimitShare:
			injected = http.StatusTooManyRequests
		case h.rng.IntN(2) == 1:
			injected = 529
		default:
			injected = http.StatusInternalServerError
		}
	}
	remaining = -1
	if h.opts.RPM > 0 {
		remaining = max(0, h.opts.RPM-len(h.accepted))
	}
	return retryAfter, injected, remaining
}

// writingTime is how long a reply of n output tokens takes at
// Options.TokensPerSecond (0 when no speed is set).
func (h *Handler) writingTime(n int) time.Duration {
	if h.opts.TokensPerSecond <= 0 {
		return 0
	}
	return time.Duration(float64(n) / h.opts.TokensPerSecond * float64(time.Second))
}

// lastUser is the text of the request's last user message.
func lastUser(req *Request) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			return req.Messages[i].Text
		}
	}
	return ""
}

// refusal is an API error answer: its status, error type and message.
type refusal struct {
	status   int
	typ, msg string
}

// readBody reads a request's body, at most limit bytes (tooLarge says so
// when it is larger), as the Messages and Batches APIs do.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, tooLarge string) ([]byte, *refusal) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, &refusal{http.StatusRequestEntityTooLarge, "request_too_large", tooLarge}
		}
		return nil, &refusal{http.StatusBadRequest, "invalid_request_error", "could not read the request body: " + err.Error()}
	}
	return body, nil
}

// checkHeaders checks the headers every API call needs: a key and
// anthropic-version, in the API's order.
func checkHeaders(r *http.Request) *refusal {
	if !hasAPIKey(r) {
		return &refusal{http.StatusUnauthorized, "authentication_error", "x-api-key header (or Authorization: Bearer) is required"}
	}
	if strings.TrimSpace(r.Header.Get("Anthropic-Version")) == "" {
		return &refusal{http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required"}
	}
	return nil
}

// hasAPIKey reports whether the request carries a key: x-api-key, or
// Authorization: Bearer <key>.
func hasAPIKey(r *http.Request) bool {
	if strings.TrimSpace(r.Header.Get("X-Api-Key")) != "" {
		return true
	}
	scheme, key, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(key) != ""
}

// sleepOrQuit waits d, unless the client goes away (an error) or the stand-in
// stops first (the handler aborts and the connection is cut).
func sleepOrQuit(r *http.Request, quit <-chan struct{}, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.Context().Done():
		return r.Context().Err()
	case <-quit:
		panic(http.ErrAbortHandler) // the stand-in stops: cut the connection
	}
}

func msDuration(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }

// Request is the part of a Messages API request the stand-in reads.
type Request struct {
	Model     string
	MaxTokens int
	System    string
	Messages  []Message
}

// Message is one turn, its content reduced to text.
type Message struct {
	Role string
	Text string
}

// parseRequest validates a request body as the Messages API does for the
// fields zerocost sends: model, max_tokens, messages, and system.
func parseRequest(body []byte) (*Request, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, errors.New("the request body is not a JSON object")
	}
	req := &Request{}
	if m, ok := raw["model"]; !ok {
		return nil, errors.New("model: Field required")
	} else if err := json.Unmarshal(m, &req.Model); err != nil || strings.TrimSpace(req.Model) == "" {
		return nil, errors.New("model: must be a non-empty string")
	}
	if m, ok := raw["max_tokens"]; !ok {
		return nil, errors.New("max_tokens: Field required")
	} else {
		var f float64
		if err := json.Unmarshal(m, &f); err != nil || f != math.Trunc(f) || f < 1 || f > math.MaxInt32 {
			return nil, errors.New("max_tokens: must be a positive integer")
		}
		req.MaxTokens = int(f)
	}
	if s, ok := raw["system"]; ok && string(s) != "null" {
		text, err := contentText(s)
		if err != nil {
			return nil, fmt.Errorf("system: %v", err)
		}
		req.System = text
	}
	m, ok := raw["messages"]
	if !ok {
		return nil, errors.New("messages: Field required")
	}
	var msgs []map[string]json.RawMessage
	if err := json.Unmarshal(m, &msgs); err != nil {
		return nil, errors.New("messages: must be an array of message objects")
	}
	if len(msgs) == 0 {
		return nil, errors.New("messages: at least one message is required")
	}
	for i, msg := range msgs {
		var role string
		if err := json.Unmarshal(msg["role"], &role); err != nil || (role != "user" && role != "assistant") {
			return nil, fmt.Errorf("messages.%d.role: must be \"user\" or \"assistant\"", i)
		}
		c, ok := msg["content"]
		if !ok {
			return nil, fmt.Errorf("messages.%d.content: Field required", i)
		}
		text, err := contentText(c)
		if err != nil {
			return nil, fmt.Errorf("messages.%d.content: %v", i, err)
		}
		if text == "" && role == "user" {
			return nil, fmt.Errorf("messages.%d: user messages must have non-empty content", i)
		}
		req.Messages = append(req.Messages, Message{Role: role, Text: text})
	}
	return req, nil
}

// contentText reads a content field: a string, or an array of blocks each with
// a type (the text of text blocks is kept).
func contentText(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var blocks []map[string]any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", errors.New("must be a string or an array of content blocks")
	}
	var b strings.Builder
	for i, bl := range blocks {
		typ, _ := bl["type"].(string)
		if typ == "" {
			return "", fmt.Errorf("block %d: type is required", i)
		}
		if typ == "text" {
			t, ok := bl["text"].(string)
			if !ok {
				return "", fmt.Errorf("block %d: text blocks need a text string", i)
			}
			if b.Len() > 0 {
				b.WriteString("\n")
			}
			b.WriteString(t)
		}
	}
	return b.String(), nil
}

// Response is the Messages API response shape.
type Response struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []ContentBlock `json:"content"`
	StopReason   string         `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        Usage          `json:"usage"`
}

// ContentBlock is a text block.
type ContentBlock struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Usage is the token accounting of a response.
type Usage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
}

// Tokens estimates a text's tokens as Anthropic's rule of thumb does: about
// four characters each, at least one for non-empty text.
func Tokens(s string) int {
	n := utf8.RuneCountInString(s)
	return (n + 3) / 4
}

// Reply is the stand-in's deterministic answer to a request: the marker, a
// digest of the last user message and an echo of its start. It is cut to
// max_tokens (stop_reason "max_tokens") like a real answer would be.
func Reply(req *Request, seq int64) *Response {
	last := lastUser(req)
	sum := sha256.Sum256([]byte(last))
	echo := strings.Join(strings.Fields(last), " ")
	if utf8.RuneCountInString(echo) > 80 {
		echo = string([]rune(echo)[:80]) + "…"
	}
	text := fmt.Sprintf("%s reply to %q (sha256 %s, %d characters)", Marker, echo, hex.EncodeToString(sum[:])[:12], utf8.RuneCountInString(last))
	stop := "end_turn"
	if Tokens(text) > req.MaxTokens {
		text = string([]rune(text)[:req.MaxTokens*4])
		stop = "max_tokens"
	}
	in := Tokens(req.System)
	for _, m := range req.Messages {
		in += Tokens(m.Text) + 3 // a few tokens of framing per turn
	}
	return &Response{
		ID:         fmt.Sprintf("msg_standin_%s%06d", hex.EncodeToString(sum[:4]), seq),
		Type:       "message",
		Role:       "assistant",
		Model:      req.Model,
		Content:    []ContentBlock{{Type: "text", Text: text}},
		StopReason: stop,
		Usage:      Usage{InputTokens: in, OutputTokens: Tokens(text)},
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ErrorBody is Anthropic's error shape.
type ErrorBody struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	var e ErrorBody
	e.Type = "error"
	e.Error.Type = typ
	e.Error.Message = msg
	writeJSON(w, status, e)
}

// Server is the stand-in listening on 127.0.0.1.
type Server struct {
	*Handler
	// URL is the base URL, e.g. http://127.0.0.1:41234 (set ANTHROPIC_BASE_URL to it).
	URL string

	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Start listens on 127.0.0.1:port (0 picks a free port) and serves the stand-in.
func Start(opts Options, port int) (*Server, error) {
	if err := opts.Check(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("stand-in model: %w", err)
	}
	h := NewHandler(opts)
	s := &Server{
		Handler: h,
		URL:     "http://" + ln.Addr().String(),
		srv:     &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		ln:      ln,
		done:    make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	h.log.Printf("listening on %s (a stand-in, not Anthropic's API: latency %s, error rate %g (429 share %g), rpm %s)",
		s.URL, opts.Latency, opts.ErrorRate, opts.RateLimitShare, rpmText(opts.RPM))
	return s, nil
}

func rpmText(n int) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.Itoa(n)
}

// Close stops the server, giving calls in flight a moment to finish.
// shutdownGrace is how long Close lets calls in flight finish.
var shutdownGrace = 2 * time.Second

func (s *Server) Close() error {
	s.stop()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	<-s.done
	return err
}
