package devmodel

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const tok = "tok0123456789abcdef0123456789abcdef"

func bodyWith(input string) string {
	b, _ := json.Marshal(map[string]any{
		"model": "claude-haiku-4-5", "max_tokens": 64,
		"messages": []map[string]string{{"role": "user", "content": input}},
	})
	return string(b)
}

func str(s string) *string { return &s }

func TestAuthForms(t *testing.T) {
	h := NewHandler(Options{})
	cases := []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{"x-api-key", nil, 200},
		{"bearer", map[string]string{"X-Api-Key": "", "Authorization": "Bearer sk-ant-test"}, 200},
		{"bearer, lower case, newer version", map[string]string{"X-Api-Key": "", "Authorization": "bearer k", "Anthropic-Version": "2026-10-21"}, 200},
		{"both", map[string]string{"Authorization": "Bearer k"}, 200},
		{"neither", map[string]string{"X-Api-Key": ""}, 401},
		{"empty bearer", map[string]string{"X-Api-Key": "", "Authorization": "Bearer "}, 401},
		{"basic", map[string]string{"X-Api-Key": "", "Authorization": "Basic a2V5"}, 401},
		{"bare token", map[string]string{"X-Api-Key": "", "Authorization": "sk-ant-test"}, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := post(t, h, validBody, c.headers)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			if c.status == 401 {
				e := decodeError(t, rec)
				if e.Error.Type != "authentication_error" || !strings.Contains(e.Error.Message, "Bearer") {
					t.Errorf("error %+v", e.Error)
				}
			}
		})
	}
}

func decodeReply(t *testing.T, rec *httptest.ResponseRecorder) Response {
	t.Helper()
	var r Response
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("reply %q: %v", rec.Body, err)
	}
	return r
}

func TestScriptedSteps(t *testing.T) {
	// Scripted steps bypass the injected failures and the RPM cap.
	h := NewHandler(Options{ErrorRate: 1, RPM: 1})
	err := h.Script(strings.ToUpper(tok[:3])+tok[3:], []Step{
		{Status: 500},
		{Status: 429, RetryAfter: str("7")},
		{Status: 503, Times: 2},
		{Text: str("ab"), Repeat: 3},
		{RawBody: str("<html>")},
		{Status: 529, Times: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	body := bodyWith("question " + tok + " and tok" + strings.Repeat("f", 32))
	type want struct {
		status  int
		errType string
		retry   string
	}
	for i, w := range []want{{500, "api_error", ""}, {429, "rate_limit_error", "7"}, {503, "api_error", ""}, {503, "api_error", ""}} {
		rec := post(t, h, body, nil)
		if rec.Code != w.status || decodeError(t, rec).Error.Type != w.errType || rec.Header().Get("Retry-After") != w.retry {
			t.Fatalf("call %d: %d %v %s, want %+v", i, rec.Code, rec.Header(), rec.Body, w)
		}
		if !strings.Contains(rec.Body.String(), Marker) || rec.Header().Get(Header) != "true" {
			t.Errorf("call %d does not say it is the stand-in: %s", i, rec.Body)
		}
	}
	rec := post(t, h, body, nil)
	r := decodeReply(t, rec)
	if rec.Code != 200 || r.Content[0].Text != "ababab" || r.StopReason != "end_turn" || r.Usage.OutputTokens != 2 || r.Usage.InputTokens == 0 || r.Type != "message" {
		t.Fatalf("text step: %d %+v", rec.Code, r)
	}
	if rec = post(t, h, body, nil); rec.Code != 200 || rec.Body.String() != "<html>" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("raw body step: %d %q", rec.Code, rec.Body)
	}
	for i := 0; i < 3; i++ {
		if rec = post(t, h, body, nil); rec.Code != 529 || decodeError(t, rec).Error.Type != "overloaded_error" {
			t.Fatalf("times -1, call %d: %d", i, rec.Code)
		}
	}

	calls := h.Calls(tok)
	if len(calls) != 9 {
		t.Fatalf("%d calls recorded, want 9", len(calls))
	}
	c := calls[0]
	wantHeaders := map[string]string{"x-api-key": "test-key", "anthropic-version": "2023-06-01", "content-type": "application/json"}
	if len(c.Headers) != len(wantHeaders) {
		t.Errorf("headers %v, want %v", c.Headers, wantHeaders)
	}
	for k, v := range wantHeaders {
		if c.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, c.Headers[k], v)
		}
	}
	if string(c.Body) != body || c.At == 0 {
		t.Errorf("call %+v", c)
	}
	// The second token in the body names no scenario; the first one does.
	if n := len(h.Calls("tok" + strings.Repeat("f", 32))); n != 0 {
		t.Errorf("second token got %d calls", n)
	}
	st := h.Stats()
	if st.Total != 9 || st.ByStatus["529"] != 3 || st.ByStatus["503"] != 2 || st.ByStatus["200"] != 2 || st.ByErrorType["rate_limit_error"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestUnscriptedTokenIsRecordedAndAnsweredAsUsual(t *testing.T) {
	h := NewHandler(Options{})
	other := "tok" + strings.Repeat("a", 32)
	rec := post(t, h, bodyWith("hello "+other), map[string]string{"X-Api-Key": "", "Authorization": "Bearer k"})
	r := decodeReply(t, rec)
	if rec.Code != 200 || !strings.HasPrefix(r.Content[0].Text, Marker+" reply to ") {
		t.Fatalf("%d %+v", rec.Code, r)
	}
	calls := h.Calls(strings.ToUpper(other))
	if len(calls) != 1 || calls[0].Headers["authorization"] != "Bearer k" || calls[0].Headers["x-api-key"] != "" {
		t.Fatalf("calls %+v", calls)
	}
	// Rejected calls are recorded too; steps wait for a valid call.
	if err := h.Script(other, []Step{{Status: 500}}); err != nil {
		t.Fatal(err)
	}
	if rec := post(t, h, bodyWith("x "+other), map[string]string{"X-Api-Key": ""}); rec.Code != 401 {
		t.Fatalf("no key: %d", rec.Code)
	}
	if rec := post(t, h, `{"messages":"`+other+`"}`, nil); rec.Code != 400 {
		t.Fatalf("bad body: %d", rec.Code)
	}
	if rec := post(t, h, bodyWith("x "+other), nil); rec.Code != 500 {
		t.Fatalf("the step was used up by a rejected call: %d", rec.Code)
	}
	calls = h.Calls(other)
	if len(calls) != 4 || string(calls[2].Body) != `{"messages":"`+other+`"}` {
		t.Fatalf("calls %+v", calls)
	}
	if got := h.Calls("tok" + strings.Repeat("b", 32)); got == nil || len(got) != 0 {
		t.Errorf("unknown token: %#v", got)
	}
}

func TestScriptChecks(t *testing.T) {
	h := NewHandler(Options{})
	for _, c := range []struct {
		token string
		steps []Step
	}{
		{"tok123", nil},
		{"x" + tok, nil},
		{tok, []Step{{Status: 99}}},
		{tok, []Step{{Status: 600}}},
		{tok, []Step{{Times: -2}}},
		{tok, []Step{{DelayMs: -1}}},
		{tok, []Step{{Repeat: -1}}},
		{tok, []Step{{Hang: true, Drop: true}}},
	} {
		if err := h.Script(c.token, c.steps); err == nil {
			t.Errorf("Script(%q, %+v) accepted", c.token, c.steps)
		}
	}
}

// server starts the stand-in on a port with an observer of finished calls.
func server(t *testing.T) (*Server, chan CallInfo) {
	t.Helper()
	seen := make(chan CallInfo, 16)
	s, err := Start(Options{Observe: func(c CallInfo) { seen <- c }}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, seen
}

func do(t *testing.T, method, url, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var apiHeaders = map[string]string{"x-api-key": "k", "anthropic-version": "2023-06-01", "content-type": "application/json"}

func TestControlRoutes(t *testing.T) {
	s, _ := server(t)
	for _, c := range []struct {
		method, path, body string
		status             int
		mention            string
	}{
		{"POST", ScriptPath, `{"token":"` + tok + `","steps":[{"status":500,"times":2}]}`, 200, `"ok":true`},
		{"POST", ScriptPath, `{"token":"` + tok + `","steps":[{"stauts":500}]}`, 400, "stauts"},
		{"POST", ScriptPath, `{"token":"tok1","steps":[]}`, 400, "32 hexadecimal"},
		{"POST", ScriptPath, `{"token":"` + tok + `","steps":[{"times":-5}]}`, 400, "steps[0]"},
		{"POST", ScriptPath, `nope`, 400, "script"},
		{"GET", ScriptPath, ``, 405, "POST"},
		{"GET", CallsPath + "?token=" + tok, ``, 200, `{"calls":[]}`},
		{"GET", CallsPath + "?token=abc", ``, 400, "token"},
		{"POST", CallsPath, ``, 405, "GET"},
	} {
		status, body := do(t, c.method, s.URL+c.path, c.body, nil)
		if status != c.status || !strings.Contains(body, c.mention) {
			t.Errorf("%s %s %s: %d %s, want %d mentioning %q", c.method, c.path, c.body, status, body, c.status, c.mention)
		}
	}
	for i := 0; i < 2; i++ {
		if status, _ := do(t, "POST", s.URL+MessagesPath, bodyWith(tok), apiHeaders); status != 500 {
			t.Fatalf("scripted call %d: %d", i, status)
		}
	}
	status, body := do(t, "POST", s.URL+MessagesPath, bodyWith("again "+tok), apiHeaders)
	if status != 200 || !strings.Contains(body, Marker) {
		t.Fatalf("after the steps: %d %s", status, body)
	}
	_, body = do(t, "GET", s.URL+CallsPath+"?token="+strings.ToUpper(tok), "", nil)
	var got struct {
		Calls []struct {
			Headers map[string]string `json:"headers"`
			Body    struct {
				Model    string `json:"model"`
				Messages []struct{ Content string }
			} `json:"body"`
			At int64 `json:"at"`
		} `json:"calls"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Calls) != 3 || got.Calls[2].Body.Messages[0].Content != "again "+tok || got.Calls[0].Headers["x-api-key"] != "k" ||
		got.Calls[0].Body.Model != "claude-haiku-4-5" || got.Calls[1].At < got.Calls[0].At {
		t.Errorf("calls %s", body)
	}
}

// waitCall waits for the next finished call, with a deadline.
func waitCall(t *testing.T, seen chan CallInfo) CallInfo {
	t.Helper()
	select {
	case c := <-seen:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no call finished within 10 s")
		return CallInfo{}
	}
}

func TestHangDropDelay(t *testing.T) {
	s, seen := server(t)
	if err := s.Script(tok, []Step{{Hang: true}, {Drop: true}, {DelayMs: 150}, {DelayMs: 100, Status: 529}}); err != nil {
		t.Fatal(err)
	}
	post := func(ctx context.Context) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+MessagesPath, strings.NewReader(bodyWith("q "+tok)))
		for k, v := range apiHeaders {
			req.Header.Set(k, v)
		}
		return http.DefaultClient.Do(req)
	}

	// Hang: no answer; the call ends when the client gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err := post(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang: %v", err)
	}
	if c := waitCall(t, seen); c.Status != 499 || c.Input != "q "+tok {
		t.Errorf("hang ended as %+v", c)
	}

	// Drop: the headers of a 200, then the connection closes mid-body.
	resp, err := post(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) || string(b) != `{"partial":` || resp.Header.Get(Header) != "true" {
		t.Fatalf("drop: %d %q %v", resp.StatusCode, b, err)
	}
	if c := waitCall(t, seen); c.Status != 200 || c.ErrorType != droppedConnection {
		t.Errorf("drop recorded as %+v", c)
	}

	// Delays, before an answer and before an error.
	for _, w := range []struct {
		status int
		min    time.Duration
	}{{200, 150 * time.Millisecond}, {529, 100 * time.Millisecond}} {
		start := time.Now()
		resp, err = post(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if took := time.Since(start); resp.StatusCode != w.status || took < w.min {
			t.Errorf("delayed step: %d after %s, want %d after at least %s", resp.StatusCode, took, w.status, w.min)
		}
		waitCall(t, seen)
	}
}

func TestCloseEndsHangingCalls(t *testing.T) {
	s, err := Start(Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Script(tok, []Step{{Hang: true, Times: -1}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, s.URL+MessagesPath, strings.NewReader(bodyWith(tok)))
		for k, v := range apiHeaders {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// Wait until the call has arrived (it is recorded on arrival).
	deadline := time.Now().Add(10 * time.Second)
	for len(s.Calls(tok)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the call never arrived")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// With a grace far longer than any scheduling delay, a Close that waited
	// for the hanging call instead of ending it would show plainly.
	defer func(g time.Duration) { shutdownGrace = g }(shutdownGrace)
	shutdownGrace = time.Minute
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if took := time.Since(start); took > shutdownGrace/2 {
		t.Errorf("Close took %s with a hanging call: it waited for the shutdown grace instead of ending the call", took)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("the hanging call got an answer")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hanging call did not end")
	}
}
