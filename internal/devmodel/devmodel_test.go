package devmodel

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const validBody = `{"model":"claude-haiku-4-5","max_tokens":256,"system":"You are terse.","messages":[{"role":"user","content":"Hello, stand-in!"}]}`

// post sends a Messages API call; see batchCall for headers.
func post(t *testing.T, h http.Handler, body string, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	return batchCall(t, h, http.MethodPost, MessagesPath, body, headers)
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) ErrorBody {
	t.Helper()
	var e ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q: %v", rec.Body.String(), err)
	}
	if e.Type != "error" || e.Error.Type == "" || e.Error.Message == "" {
		t.Fatalf("not Anthropic's error shape: %s", rec.Body.String())
	}
	return e
}

// failures posts a valid call n times to h, which must fail every one with a
// status of types and that status's error type, and counts the statuses.
// each, when not nil, checks every answer further.
func failures(t *testing.T, h http.Handler, n int, types map[int]string, each func(*httptest.ResponseRecorder)) map[int]int {
	t.Helper()
	seen := map[int]int{}
	for range n {
		rec := post(t, h, validBody, nil)
		seen[rec.Code]++
		e := decodeError(t, rec)
		want, ok := types[rec.Code]
		if !ok {
			t.Fatalf("status %d with error rate 1", rec.Code)
		}
		if e.Error.Type != want {
			t.Errorf("%d with %s", rec.Code, e.Error.Type)
		}
		if each != nil {
			each(rec)
		}
	}
	return seen
}

func TestReplyShape(t *testing.T) {
	var logs bytes.Buffer
	h := NewHandler(Options{Log: &logs})
	rec := post(t, h, validBody, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if rec.Header().Get(Header) != "true" || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Request-Id") == "" {
		t.Errorf("headers %v", rec.Header())
	}
	// Decode into a generic map to check the exact field names.
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"} {
		if _, ok := m[k]; !ok {
			t.Errorf("response lacks %q: %s", k, rec.Body)
		}
	}
	var r Response
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Type != "message" || r.Role != "assistant" || r.Model != "claude-haiku-4-5" || r.StopReason != "end_turn" || !strings.HasPrefix(r.ID, "msg_") {
		t.Errorf("response %+v", r)
	}
	if len(r.Content) != 1 || r.Content[0].Type != "text" || !strings.HasPrefix(r.Content[0].Text, Marker) || !strings.Contains(r.Content[0].Text, "Hello, stand-in!") {
		t.Errorf("content %+v", r.Content)
	}
	u := m["usage"].(map[string]any)
	for _, k := range []string{"input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"} {
		if _, ok := u[k]; !ok {
			t.Errorf("usage lacks %q", k)
		}
	}
	// ceil(chars/4): system 14 chars -> 4, message 16 chars -> 4, +3 framing.
	if r.Usage.InputTokens != 4+4+3 || r.Usage.OutputTokens != Tokens(r.Content[0].Text) || r.Usage.OutputTokens < 10 {
		t.Errorf("usage %+v", r.Usage)
	}
	if !strings.Contains(logs.String(), "stand-in model:") || !strings.Contains(logs.String(), " 200: ") {
		t.Errorf("log %q", logs.String())
	}

	// Deterministic: the same prompt gives the same text, another prompt another.
	again := post(t, h, validBody, nil)
	var r2 Response
	_ = json.Unmarshal(again.Body.Bytes(), &r2)
	if r2.Content[0].Text != r.Content[0].Text || r2.ID == r.ID {
		t.Errorf("not deterministic or ids repeat: %q/%q %s/%s", r.Content[0].Text, r2.Content[0].Text, r.ID, r2.ID)
	}
	other := post(t, h, strings.Replace(validBody, "Hello", "Bye", 1), nil)
	var r3 Response
	_ = json.Unmarshal(other.Body.Bytes(), &r3)
	if r3.Content[0].Text == r.Content[0].Text {
		t.Error("different prompts gave the same answer")
	}
}

func TestReplyMaxTokensAndBlocks(t *testing.T) {
	h := NewHandler(Options{})
	rec := post(t, h, `{"model":"m","max_tokens":3,"system":[{"type":"text","text":"sys"}],"messages":[{"role":"user","content":[{"type":"text","text":"a long question about Workers"}]},{"role":"assistant","content":"Sure"}]}`, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var r Response
	_ = json.Unmarshal(rec.Body.Bytes(), &r)
	if r.StopReason != "max_tokens" || r.Usage.OutputTokens > 3 || len([]rune(r.Content[0].Text)) != 12 {
		t.Errorf("max_tokens not honoured: %+v", r)
	}
}

func TestValidation(t *testing.T) {
	h := NewHandler(Options{})
	cases := []struct {
		name    string
		body    string
		headers map[string]string
		status  int
		errType string
		msg     string
	}{
		{"no api key", validBody, map[string]string{"X-Api-Key": ""}, 401, "authentication_error", "x-api-key"},
		{"no version", validBody, map[string]string{"Anthropic-Version": ""}, 400, "invalid_request_error", "anthropic-version"},
		{"not json", `nope`, nil, 400, "invalid_request_error", "JSON"},
		{"array", `[]`, nil, 400, "invalid_request_error", "JSON object"},
		{"no model", `{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, nil, 400, "invalid_request_error", "model"},
		{"empty model", `{"model":"","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, nil, 400, "invalid_request_error", "model"},
		{"no max_tokens", `{"model":"m","messages":[{"role":"user","content":"x"}]}`, nil, 400, "invalid_request_error", "max_tokens"},
		{"zero max_tokens", `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`, nil, 400, "invalid_request_error", "max_tokens"},
		{"fractional max_tokens", `{"model":"m","max_tokens":1.5,"messages":[{"role":"user","content":"x"}]}`, nil, 400, "invalid_request_error", "max_tokens"},
		{"string max_tokens", `{"model":"m","max_tokens":"5","messages":[{"role":"user","content":"x"}]}`, nil, 400, "invalid_request_error", "max_tokens"},
		{"no messages", `{"model":"m","max_tokens":5}`, nil, 400, "invalid_request_error", "messages"},
		{"empty messages", `{"model":"m","max_tokens":5,"messages":[]}`, nil, 400, "invalid_request_error", "messages"},
		{"bad role", `{"model":"m","max_tokens":5,"messages":[{"role":"system","content":"x"}]}`, nil, 400, "invalid_request_error", "messages.0.role"},
		{"no content", `{"model":"m","max_tokens":5,"messages":[{"role":"user"}]}`, nil, 400, "invalid_request_error", "messages.0.content"},
		{"empty content", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":""}]}`, nil, 400, "invalid_request_error", "non-empty"},
		{"block without type", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"text":"x"}]}]}`, nil, 400, "invalid_request_error", "type"},
		{"bad system", `{"model":"m","max_tokens":5,"system":5,"messages":[{"role":"user","content":"x"}]}`, nil, 400, "invalid_request_error", "system"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := post(t, h, c.body, c.headers)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			e := decodeError(t, rec)
			if e.Error.Type != c.errType || !strings.Contains(e.Error.Message, c.msg) {
				t.Errorf("error %+v, want %s mentioning %q", e.Error, c.errType, c.msg)
			}
			if rec.Header().Get(Header) != "true" {
				t.Error("no stand-in header on an error")
			}
		})
	}
	st := h.Stats()
	if st.Total != int64(len(cases)) || st.ByStatus["400"] != int64(len(cases)-1) || st.ByStatus["401"] != 1 || st.ByErrorType["invalid_request_error"] != int64(len(cases)-1) {
		t.Errorf("stats %+v", st)
	}

	// Other methods and paths.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, MessagesPath, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET %s: %d", MessagesPath, rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/other", nil))
	if rec.Code != http.StatusNotFound || decodeError(t, rec).Error.Type != "not_found_error" {
		t.Errorf("unknown path: %d %s", rec.Code, rec.Body)
	}
}

func TestErrorRateOne(t *testing.T) {
	h := NewHandler(Options{ErrorRate: 1, Seed: 7})
	seen := failures(t, h, 40, map[int]string{500: "api_error", 529: "overloaded_error"}, nil)
	if seen[500] == 0 || seen[529] == 0 {
		t.Errorf("want both 500 and 529: %v", seen)
	}
	st := h.Stats()
	if st.Total != 40 || st.ByStatus["500"]+st.ByStatus["529"] != 40 || st.ByStatus["200"] != 0 {
		t.Errorf("stats %+v", st)
	}
	// Validation still comes first: a bad request is a 400, not an injected failure.
	if rec := post(t, h, `{}`, nil); rec.Code != 400 {
		t.Errorf("bad request with error rate 1: %d", rec.Code)
	}
}

func TestErrorRateHalf(t *testing.T) {
	h := NewHandler(Options{ErrorRate: 0.5, Seed: 42})
	ok := 0
	for i := 0; i < 400; i++ {
		if post(t, h, validBody, nil).Code == 200 {
			ok++
		}
	}
	if ok < 140 || ok > 260 {
		t.Errorf("%d of 400 succeeded with error rate 0.5", ok)
	}
}

func TestRPM(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	h := NewHandler(Options{RPM: 3, Now: clock})
	for i := 0; i < 3; i++ {
		rec := post(t, h, validBody, nil)
		if rec.Code != 200 {
			t.Fatalf("call %d: %d", i, rec.Code)
		}
		advance(10 * time.Second)
	}
	// 30 s after the first call: the window holds 3 calls, the oldest leaves in 30 s.
	rec := post(t, h, validBody, nil)
	if rec.Code != http.StatusTooManyRequests || decodeError(t, rec).Error.Type != "rate_limit_error" {
		t.Fatalf("4th call: %d %s", rec.Code, rec.Body)
	}
	if ra, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || ra != 30 {
		t.Errorf("retry-after %q, want 30", rec.Header().Get("Retry-After"))
	}
	if rec.Header().Get("Anthropic-Ratelimit-Requests-Limit") != "3" {
		t.Errorf("limit header %v", rec.Header())
	}
	advance(30 * time.Second) // the first call leaves the window
	if rec := post(t, h, validBody, nil); rec.Code != 200 {
		t.Errorf("after the window moved: %d", rec.Code)
	}
	if rec := post(t, h, validBody, nil); rec.Code != 429 {
		t.Errorf("window full again: %d", rec.Code)
	}
	st := h.Stats()
	if st.ByStatus["200"] != 4 || st.ByStatus["429"] != 2 || st.ByErrorType["rate_limit_error"] != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestServerLatencyAndStats(t *testing.T) {
	s, err := Start(Options{Latency: 150 * time.Millisecond}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("url %s", s.URL)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+MessagesPath, strings.NewReader(validBody))
	req.Header.Set("x-api-key", "k")
	req.Header.Set("anthropic-version", "2023-06-01")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if took := time.Since(start); took < 150*time.Millisecond || took > 5*time.Second {
		t.Errorf("latency %s, want about 150ms", took)
	}
	if resp.StatusCode != 200 || resp.Header.Get(Header) != "true" {
		t.Errorf("%d %v", resp.StatusCode, resp.Header)
	}

	resp, err = http.Get(s.URL + StatsPath)
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || !st.StandIn || st.Total != 1 || st.ByStatus["200"] != 1 || st.InputTokens == 0 {
		t.Errorf("stats %+v %v", st, err)
	}
	dreq, _ := http.NewRequest(http.MethodDelete, s.URL+StatsPath, nil)
	resp, err = http.DefaultClient.Do(dreq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st := s.Stats(); st.Total != 0 {
		t.Errorf("after reset: %+v", st)
	}
}

func TestOptionsCheck(t *testing.T) {
	for _, o := range []Options{{ErrorRate: 1.5}, {ErrorRate: -0.1}, {RPM: -1}, {Latency: -time.Second}} {
		if o.Check() == nil {
			t.Errorf("%+v accepted", o)
		}
		if _, err := Start(o, 0); err == nil {
			t.Errorf("Start(%+v) accepted", o)
		}
	}
	if err := (Options{ErrorRate: 1, RPM: 10, Latency: time.Second}).Check(); err != nil {
		t.Error(err)
	}
}

// Concurrent calls share one RPM window: exactly RPM of them pass.
func TestRPMConcurrent(t *testing.T) {
	h := NewHandler(Options{RPM: 10})
	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- post(t, h, validBody, nil).Code
		}()
	}
	wg.Wait()
	close(codes)
	n := map[int]int{}
	for c := range codes {
		n[c]++
	}
	if n[200] != 10 || n[429] != 40 {
		t.Errorf("statuses %v, want 10 x 200 and 40 x 429", n)
	}
	if st := h.Stats(); st.Total != 50 {
		t.Errorf("total %d", st.Total)
	}
}

// At TokensPerSecond a reply takes its writing time: a scripted reply of 40
// tokens at 200 tokens a second comes no sooner than 200 ms after the call.
func TestTokensPerSecond(t *testing.T) {
	if err := (Options{TokensPerSecond: -1}).Check(); err == nil {
		t.Error("a negative speed passed Check")
	}
	h := NewHandler(Options{TokensPerSecond: 200})
	text := strings.Repeat("abcd", 40) // 40 tokens at four characters a token
	tok := "tok" + strings.Repeat("a", 32)
	if err := h.Script(tok, []Step{{Text: &text}}); err != nil {
		t.Fatal(err)
	}
	if got := h.writingTime(Tokens(text)); got != 200*time.Millisecond {
		t.Fatalf("writing time of 40 tokens at 200/s: %s", got)
	}
	start := time.Now()
	rec := post(t, h, `{"model":"claude-haiku-4-5","max_tokens":100,"messages":[{"role":"user","content":"`+tok+`"}]}`, nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), text) {
		t.Fatalf("answer %d %s", rec.Code, rec.Body.String())
	}
	if took := time.Since(start); took < 200*time.Millisecond { // a lower bound: the reply waits its writing time
		t.Errorf("a 40-token reply at 200 tokens a second came after %s", took)
	}
}
