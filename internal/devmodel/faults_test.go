package devmodel

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// A share of the injected failures are 429 rate_limit_error with retry-after.
func TestRateLimitShare(t *testing.T) {
	h := NewHandler(Options{ErrorRate: 1, RateLimitShare: 0.5, RetryAfter: 1500 * time.Millisecond, Seed: 3})
	seen := failures(t, h, 200, map[int]string{429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}, func(rec *httptest.ResponseRecorder) {
		if rec.Code == 429 && rec.Header().Get("Retry-After") != "2" {
			t.Errorf("429: retry-after %q (want 2: 1.5 s rounded up)", rec.Header().Get("Retry-After"))
		}
	})
	if seen[429] < 60 || seen[429] > 140 || seen[500] == 0 || seen[529] == 0 {
		t.Errorf("statuses %v: want about half 429s, and both 500 and 529", seen)
	}
	if st := h.Stats(); st.ByErrorType["rate_limit_error"] != int64(seen[429]) {
		t.Errorf("stats %+v", st)
	}

	// All failures 429, with the default retry-after of 1 s.
	h = NewHandler(Options{ErrorRate: 1, RateLimitShare: 1})
	for i := 0; i < 20; i++ {
		if rec := post(t, h, validBody, nil); rec.Code != 429 || rec.Header().Get("Retry-After") != "1" {
			t.Fatalf("call %d: %d, retry-after %q", i, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
}

// Without RateLimitShare the failure sequence of a seed is what it always was.
func TestRateLimitShareZeroKeepsSequence(t *testing.T) {
	a := NewHandler(Options{ErrorRate: 0.5, Seed: 42})
	b := NewHandler(Options{ErrorRate: 0.5, Seed: 42, RateLimitShare: 0, RetryAfter: 3 * time.Second})
	for i := 0; i < 100; i++ {
		if ca, cb := post(t, a, validBody, nil).Code, post(t, b, validBody, nil).Code; ca != cb || ca == 429 {
			t.Fatalf("call %d: %d vs %d", i, ca, cb)
		}
	}
}

func TestSetFaults(t *testing.T) {
	h := NewHandler(Options{})
	if rec := post(t, h, validBody, nil); rec.Code != 200 {
		t.Fatalf("before: %d", rec.Code)
	}
	if err := h.SetFaults(1, 1); err != nil {
		t.Fatal(err)
	}
	if rec := post(t, h, validBody, nil); rec.Code != 429 {
		t.Fatalf("error rate 1, all 429: %d", rec.Code)
	}
	if o := h.Options(); o.ErrorRate != 1 || o.RateLimitShare != 1 {
		t.Errorf("options %+v", o)
	}
	if err := h.SetFaults(0, 0); err != nil {
		t.Fatal(err)
	}
	if rec := post(t, h, validBody, nil); rec.Code != 200 {
		t.Fatalf("after: %d", rec.Code)
	}
	for _, bad := range [][2]float64{{-1, 0}, {2, 0}, {0.5, 1.5}, {0.5, -0.1}} {
		if err := h.SetFaults(bad[0], bad[1]); err == nil {
			t.Errorf("SetFaults(%v) accepted", bad)
		}
	}
	// Safe while calls are served (run with -race).
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); post(t, h, validBody, nil) }()
		go func(i int) { defer wg.Done(); _ = h.SetFaults(float64(i%2), 0.5) }(i)
	}
	wg.Wait()
}

func TestObserve(t *testing.T) {
	var mu sync.Mutex
	var calls []CallInfo
	h := NewHandler(Options{Observe: func(c CallInfo) { mu.Lock(); calls = append(calls, c); mu.Unlock() }})
	post(t, h, validBody, nil)
	post(t, h, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"first"},{"role":"assistant","content":"a"},{"role":"user","content":[{"type":"text","text":"second"}]}]}`, map[string]string{"X-Stainless-Retry-Count": "1"})
	post(t, h, `{}`, nil)
	post(t, h, validBody, map[string]string{"X-Api-Key": ""})
	_ = h.SetFaults(1, 1)
	post(t, h, validBody, nil)
	want := []CallInfo{
		{Seq: 1, Status: 200, Input: "Hello, stand-in!"},
		{Seq: 2, Status: 200, Input: "second", Retry: 1},
		{Seq: 3, Status: 400, ErrorType: "invalid_request_error"},
		{Seq: 4, Status: 401, ErrorType: "authentication_error"},
		{Seq: 5, Status: 429, ErrorType: "rate_limit_error", Input: "Hello, stand-in!"},
	}
	if len(calls) != len(want) {
		t.Fatalf("observed %+v", calls)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Errorf("call %d: %+v, want %+v", i, calls[i], want[i])
		}
	}
	// A client that went away before the answer: a 499, not a 200.
	var gone []CallInfo
	h = NewHandler(Options{Observe: func(c CallInfo) { gone = append(gone, c) }})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, MessagesPath, strings.NewReader(validBody))
	req.Header.Set("X-Api-Key", "k")
	req.Header.Set("Anthropic-Version", "2023-06-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if len(gone) != 1 || gone[0].Status != 499 || gone[0].Input != "Hello, stand-in!" {
		t.Errorf("a call whose client went away: %+v", gone)
	}
	// The RPM cap's 429s carry the input too.
	var got []CallInfo
	h = NewHandler(Options{RPM: 1, Observe: func(c CallInfo) { got = append(got, c) }})
	post(t, h, validBody, nil)
	if rec := post(t, h, validBody, nil); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("second call: %d", rec.Code)
	}
	if len(got) != 2 || got[1].Status != 429 || !strings.HasPrefix(got[1].Input, "Hello") {
		t.Errorf("observed %+v", got)
	}
}

func TestFaultOptionsCheck(t *testing.T) {
	for _, o := range []Options{{RateLimitShare: 1.5}, {RateLimitShare: -0.5}, {RetryAfter: -time.Second}} {
		if o.Check() == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if err := (Options{ErrorRate: 0.3, RateLimitShare: 0.5, RetryAfter: 2 * time.Second}).Check(); err != nil {
		t.Error(err)
	}
}
