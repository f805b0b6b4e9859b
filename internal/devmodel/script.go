package devmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
)

// Scripting: tests steer the stand-in per scenario. A scenario is named by a
// token, "tok" and 32 hexadecimal digits (any case), that a test puts in its
// inputs; every call to POST /v1/messages whose body contains a token belongs
// to that token's scenario (the first token in the body counts). For each
// scenario the stand-in
//
//   - records every call (headers, body, arrival time): GET /_stand-in/calls?token=...
//     or Handler.Calls;
//   - answers with the scenario's scripted steps, in order, set with
//     POST /_stand-in/script {"token": ..., "steps": [...]} or Handler.Script.
//     When no step is left, the call is answered as any other (the RPM cap,
//     injected failures, latency, then the deterministic Reply).
//
// A scripted step replaces the admission: it is not counted in the RPM window,
// never gets an injected failure and ignores Options.Latency (but a reply
// still takes its writing time at Options.TokensPerSecond). Request checks
// (401, 400) still come first. workers-src/test/standin-protocol.ts mirrors
// Step for the Worker tests; the stand-in rejects a step field it does not know.

// Control paths.
const (
	ScriptPath = "/_stand-in/script"
	CallsPath  = "/_stand-in/calls"
)

// Token matches a scenario token in a request body.
var Token = regexp.MustCompile(`(?i)tok[0-9a-f]{32}`)

var fullToken = regexp.MustCompile(`(?i)^tok[0-9a-f]{32}$`)

// Step is one scripted answer. The zero Step answers as an unscripted call would
// (the deterministic Reply), without the admission checks.
type Step struct {
	// Status answers with Anthropic's error shape for this status (the error
	// type follows the status: 400 invalid_request_error, 401
	// authentication_error, 403 permission_error, 404 not_found_error, 413
	// request_too_large, 429 rate_limit_error, 529 overloaded_error, others
	// api_error). 0 or 200 answers a message.
	Status int `json:"status,omitempty"`
	// RetryAfter is sent as the retry-after header, verbatim (with Status).
	RetryAfter *string `json:"retryAfter,omitempty"`
	// Text replaces the reply text (repeated Repeat times), verbatim: it is
	// not cut to max_tokens.
	Text   *string `json:"text,omitempty"`
	Repeat int     `json:"repeat,omitempty"`
	// Hang never answers: the call ends when the client gives up (or the
	// stand-in stops).
	Hang bool `json:"hang,omitempty"`
	// Drop sends the headers of a 200 and part of the body, then closes the
	// connection (the client sees a network error mid-answer).
	Drop bool `json:"drop,omitempty"`
	// DelayMs delays the answer, whatever it is.
	DelayMs int `json:"delayMs,omitempty"`
	// RawBody answers 200 with this body as is (application/json).
	RawBody *string `json:"rawBody,omitempty"`
	// Times is how many calls the step answers: 0 means 1, -1 means every
	// call from now on.
	Times int `json:"times,omitempty"`
}

// Check reports a step that makes no sense.
func (s Step) Check() error {
	var errs []error
	if s.Status != 0 && (s.Status < 200 || s.Status > 599) {
		errs = append(errs, fmt.Errorf("status %d is not an HTTP status of an answer (200..599)", s.Status))
	}
	if s.Repeat < 0 {
		errs = append(errs, fmt.Errorf("repeat %d is negative", s.Repeat))
	}
	if s.DelayMs < 0 {
		errs = append(errs, fmt.Errorf("delayMs %d is negative", s.DelayMs))
	}
	if s.Times < -1 {
		errs = append(errs, fmt.Errorf("times %d: use a count, or -1 for every call", s.Times))
	}
	if s.Hang && s.Drop {
		errs = append(errs, errors.New("hang and drop exclude each other"))
	}
	return errors.Join(errs...)
}

// Call is one recorded call of a scenario.
type Call struct {
	// Headers holds the request's x-api-key, authorization, anthropic-version,
	// content-type and x-stainless-retry-count, those that were sent.
	Headers map[string]string `json:"headers"`
	// Body is the request body: its JSON, or a JSON string when it is not JSON.
	Body json.RawMessage `json:"body"`
	// At is the arrival time in Unix milliseconds.
	At int64 `json:"at"`
}

// recordedHeaders are the request headers a Call keeps.
var recordedHeaders = []string{"x-api-key", "authorization", "anthropic-version", "content-type", "x-stainless-retry-count"}

type scenario struct {
	steps []Step
	calls []Call
}

type scripts struct {
	mu        sync.Mutex
	scenarios map[string]*scenario
}

func (s *scripts) get(token string) *scenario {
	if s.scenarios == nil {
		s.scenarios = map[string]*scenario{}
	}
	key := strings.ToLower(token)
	sc := s.scenarios[key]
	if sc == nil {
		sc = &scenario{}
		s.scenarios[key] = sc
	}
	return sc
}

// Script replaces the steps of token's scenario (its recorded calls are kept).
func (h *Handler) Script(token string, steps []Step) error {
	if !fullToken.MatchString(token) {
		return fmt.Errorf("token %q is not \"tok\" and 32 hexadecimal digits", token)
	}
	var errs []error
	for i, s := range steps {
		if err := s.Check(); err != nil {
			errs = append(errs, fmt.Errorf("steps[%d]: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	h.scripts.mu.Lock()
	defer h.scripts.mu.Unlock()
	h.scripts.get(token).steps = append([]Step(nil), steps...)
	return nil
}

// Calls returns the recorded calls of token's scenario, oldest first.
func (h *Handler) Calls(token string) []Call {
	h.scripts.mu.Lock()
	defer h.scripts.mu.Unlock()
	sc := h.scripts.scenarios[strings.ToLower(token)]
	if sc == nil {
		return []Call{}
	}
	return append([]Call{}, sc.calls...)
}

// record files a call under the scenario its body names and returns that
// scenario's token ("" when the body names none).
func (h *Handler) record(r *http.Request, body []byte) string {
	token := Token.Find(body)
	if token == nil {
		return ""
	}
	c := Call{Headers: map[string]string{}, At: h.opts.Now().UnixMilli()}
	for _, k := range recordedHeaders {
		if v := r.Header.Get(k); v != "" {
			c.Headers[k] = v
		}
	}
	if json.Valid(body) {
		var buf bytes.Buffer
		if json.Compact(&buf, body) == nil {
			c.Body = buf.Bytes()
		}
	}
	if c.Body == nil {
		c.Body, _ = json.Marshal(string(body))
	}
	h.scripts.mu.Lock()
	defer h.scripts.mu.Unlock()
	sc := h.scripts.get(string(token))
	sc.calls = append(sc.calls, c)
	return string(token)
}

// nextStep takes the scenario's next step, if any.
func (h *Handler) nextStep(token string) (Step, bool) {
	if token == "" {
		return Step{}, false
	}
	h.scripts.mu.Lock()
	defer h.scripts.mu.Unlock()
	sc := h.scripts.get(token)
	if len(sc.steps) == 0 {
		return Step{}, false
	}
	s := sc.steps[0]
	switch {
	case s.Times == -1:
	case s.Times <= 1:
		sc.steps = sc.steps[1:]
	default:
		sc.steps[0].Times--
	}
	return s, true
}

// errorTypes maps a scripted status to Anthropic's error type.
var errorTypes = map[int]string{
	400: "invalid_request_error",
	401: "authentication_error",
	403: "permission_error",
	404: "not_found_error",
	413: "request_too_large",
	429: "rate_limit_error",
	529: "overloaded_error",
}

// ErrorType is Anthropic's error type for an HTTP status.
func ErrorType(status int) string {
	if t, ok := errorTypes[status]; ok {
		return t
	}
	return "api_error"
}

// droppedConnection is the stats' error type of a Drop step.
const droppedConnection = "dropped_connection"

// scripted answers a call with a step.
func (h *Handler) scripted(w http.ResponseWriter, r *http.Request, req *Request, seq int64, s Step) call {
	input := lastUser(req)
	if s.Hang {
		select {
		case <-r.Context().Done():
		case <-h.quit:
			panic(http.ErrAbortHandler) // the stand-in stops: cut the connection
		}
		return call{status: 499, errType: "client_closed_request", input: input}
	}
	if err := sleepOrQuit(r, h.quit, msDuration(s.DelayMs)); err != nil {
		return call{status: 499, errType: "client_closed_request", input: input}
	}
	if s.Drop {
		dropConnection(w)
		return call{status: http.StatusOK, errType: droppedConnection, input: input}
	}
	if s.Status != 0 && s.Status != http.StatusOK {
		if s.RetryAfter != nil {
			w.Header().Set("Retry-After", *s.RetryAfter)
		}
		typ := ErrorType(s.Status)
		writeError(w, s.Status, typ, fmt.Sprintf("%s scripted error %d", Marker, s.Status))
		return call{status: s.Status, errType: typ, input: input}
	}
	if s.RawBody != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(*s.RawBody))
		return call{status: http.StatusOK, input: input}
	}
	resp := Reply(req, seq)
	if s.Text != nil {
		text := strings.Repeat(*s.Text, max(1, s.Repeat))
		resp.Content = []ContentBlock{{Type: "text", Text: text}}
		resp.StopReason = "end_turn"
		resp.Usage.OutputTokens = Tokens(text)
	}
	if err := sleepOrQuit(r, h.quit, h.writingTime(resp.Usage.OutputTokens)); err != nil {
		return call{status: 499, errType: "client_closed_request", input: input}
	}
	writeJSON(w, http.StatusOK, resp)
	return call{status: http.StatusOK, inTokens: resp.Usage.InputTokens, outTokens: resp.Usage.OutputTokens, input: input}
}

// dropConnection writes a 200's headers (content-length 1000) and 11 bytes of
// the body, then closes the connection.
func dropConnection(w http.ResponseWriter) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// No connection to cut (an in-memory recorder): abort the handler,
		// which net/http turns into a closed connection.
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n" +
		Header + ": true\r\n\r\n{\"partial\":")
	_ = buf.Flush()
}

// control serves the scripting routes.
func (h *Handler) control(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == ScriptPath && r.Method == http.MethodPost:
		var in struct {
			Token string `json:"token"`
			Steps []Step `json:"steps"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "script: "+err.Error())
			return
		}
		if err := h.Script(in.Token, in.Steps); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "script: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case r.URL.Path == CallsPath && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		token := r.URL.Query().Get("token")
		if !fullToken.MatchString(token) {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "calls: ?token= must be \"tok\" and 32 hexadecimal digits")
			return
		}
		writeJSON(w, http.StatusOK, map[string][]Call{"calls": h.Calls(token)})
	default:
		allow := "POST"
		if r.URL.Path == CallsPath {
			allow = "GET"
		}
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "use "+allow+" on "+r.URL.Path)
	}
}
