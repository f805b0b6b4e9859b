package devmodel

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a fake Options.Now that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// batchCall sends one request to h with a key and a version (headers override them;
// an empty value removes one).
func batchCall(t *testing.T, h http.Handler, method, path, body string, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Host = "standin.test"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", "test-key")
	req.Header.Set("Anthropic-Version", "2023-06-01")
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// params is a Messages request asking input.
func params(input string) string {
	b, _ := json.Marshal(map[string]any{"model": "claude-haiku-4-5", "max_tokens": 256, "system": "Be brief.",
		"messages": []map[string]string{{"role": "user", "content": input}}})
	return string(b)
}

// batchBody is a create body with one request per custom_id, each asking
// "question <custom_id>" (or the raw params given after a "=").
func batchBody(ids ...string) string {
	var reqs []string
	for _, id := range ids {
		p := params("question " + id)
		if k, raw, ok := strings.Cut(id, "="); ok {
			id, p = k, raw
		}
		reqs = append(reqs, fmt.Sprintf(`{"custom_id":%q,"params":%s}`, id, p))
	}
	return `{"requests":[` + strings.Join(reqs, ",") + `]}`
}

func decodeBatch(t *testing.T, rec *httptest.ResponseRecorder) MessageBatch {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var b MessageBatch
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func create(t *testing.T, h http.Handler, ids ...string) MessageBatch {
	t.Helper()
	return decodeBatch(t, batchCall(t, h, http.MethodPost, BatchesPath, batchBody(ids...), nil))
}

func retrieve(t *testing.T, h http.Handler, id string) MessageBatch {
	t.Helper()
	return decodeBatch(t, batchCall(t, h, http.MethodGet, BatchesPath+"/"+id, "", nil))
}

// results reads a batch's JSONL results by custom_id, in their order.
func results(t *testing.T, h http.Handler, id string) ([]string, map[string]BatchResult) {
	t.Helper()
	rec := batchCall(t, h, http.MethodGet, BatchesPath+"/"+id+"/results", "", map[string]string{"Accept": "application/binary"})
	if rec.Code != http.StatusOK {
		t.Fatalf("results: %d %s", rec.Code, rec.Body)
	}
	var order []string
	byID := map[string]BatchResult{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		var r BatchResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		order = append(order, r.CustomID)
		byID[r.CustomID] = r
	}
	return order, byID
}

func ts(t time.Time) string { return timestamp(t) }

func TestBatchLifecycle(t *testing.T) {
	clk := newClock()
	h := NewHandler(Options{Now: clk.Now, Batch: BatchOptions{Delay: time.Minute}})
	t0 := clk.Now()

	b := create(t, h, "job-1", "job_2", "JOB3")
	if !strings.HasPrefix(b.ID, "msgbatch_") || b.Type != "message_batch" || b.ProcessingStatus != "in_progress" {
		t.Fatalf("created %+v", b)
	}
	if b.RequestCounts != (RequestCounts{Processing: 3}) || b.ResultsURL != nil || b.EndedAt != nil ||
		b.CancelInitiatedAt != nil || b.ArchivedAt != nil {
		t.Errorf("created %+v", b)
	}
	if b.CreatedAt != ts(t0) || b.ExpiresAt != ts(t0.Add(24*time.Hour)) {
		t.Errorf("created_at %s, expires_at %s", b.CreatedAt, b.ExpiresAt)
	}
	if _, err := time.Parse(time.RFC3339Nano, b.CreatedAt); err != nil {
		t.Error(err)
	}
	// The raw JSON has every field, null where unset.
	raw := batchCall(t, h, http.MethodGet, BatchesPath+"/"+b.ID, "", nil).Body.String()
	for _, f := range []string{`"ended_at":null`, `"archived_at":null`, `"cancel_initiated_at":null`, `"results_url":null`} {
		if !strings.Contains(raw, f) {
			t.Errorf("%s lacks %s", raw, f)
		}
	}

	clk.Add(time.Minute - time.Nanosecond)
	if got := retrieve(t, h, b.ID); got.ProcessingStatus != "in_progress" || got.RequestCounts.Processing != 3 {
		t.Fatalf("before the delay: %+v", got)
	}
	rec := batchCall(t, h, http.MethodGet, BatchesPath+"/"+b.ID+"/results", "", nil)
	if rec.Code != http.StatusNotFound || decodeError(t, rec).Error.Type != "not_found_error" {
		t.Errorf("results while in progress: %d %s", rec.Code, rec.Body)
	}
	if rec := batchCall(t, h, http.MethodDelete, BatchesPath+"/"+b.ID, "", nil); rec.Code != http.StatusBadRequest ||
		decodeError(t, rec).Error.Type != "invalid_request_error" {
		t.Errorf("delete while in progress: %d %s", rec.Code, rec.Body)
	}

	clk.Add(time.Hour)
	got := retrieve(t, h, b.ID)
	if got.ProcessingStatus != "ended" || got.RequestCounts != (RequestCounts{Succeeded: 3}) {
		t.Fatalf("after the delay: %+v", got)
	}
	if got.EndedAt == nil || *got.EndedAt != ts(t0.Add(time.Minute)) {
		t.Errorf("ended_at %v, want creation + delay", got.EndedAt)
	}
	if got.ResultsURL == nil || *got.ResultsURL != "http://standin.test"+BatchesPath+"/"+b.ID+"/results" {
		t.Errorf("results_url %v", got.ResultsURL)
	}

	order, res := results(t, h, b.ID)
	if strings.Join(order, ",") != "job-1,job_2,JOB3" {
		t.Errorf("results order %v", order)
	}
	var in, out int64
	for _, id := range order {
		r := res[id]
		if r.Result.Type != "succeeded" || r.Result.Error != nil {
			t.Fatalf("%s: %+v", id, r)
		}
		var msg Response
		if err := json.Unmarshal(r.Result.Message, &msg); err != nil {
			t.Fatal(err)
		}
		// Same answer and usage as POST /v1/messages gives the same params.
		direct := decodeReply(t, post(t, h, params("question "+id), nil))
		if msg.Type != "message" || !strings.HasPrefix(msg.ID, "msg_") || msg.Content[0].Text != direct.Content[0].Text ||
			msg.Usage != direct.Usage || msg.Usage.InputTokens == 0 {
			t.Errorf("%s: batch message %+v, direct %+v", id, msg, direct)
		}
		in += int64(msg.Usage.InputTokens)
		out += int64(msg.Usage.OutputTokens)
	}
	st := h.Stats().Batch
	if st.Created != 1 || st.Requests != 3 || st.Succeeded != 3 || st.InputTokens != in || st.OutputTokens != out ||
		st.Calls["create"] != 1 || st.Calls["results"] != 2 {
		t.Errorf("stats %+v (tokens %d/%d)", st, in, out)
	}

	rec = batchCall(t, h, http.MethodDelete, BatchesPath+"/"+b.ID, "", nil)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != fmt.Sprintf(`{"id":%q,"type":"message_batch_deleted"}`, b.ID) {
		t.Errorf("delete: %d %s", rec.Code, rec.Body)
	}
	for _, path := range []string{"", "/results", "/cancel"} {
		method := http.MethodGet
		if path == "/cancel" {
			method = http.MethodPost
		}
		if rec := batchCall(t, h, method, BatchesPath+"/"+b.ID+path, "", nil); rec.Code != http.StatusNotFound ||
			decodeError(t, rec).Error.Type != "not_found_error" {
			t.Errorf("%s after delete: %d", path, rec.Code)
		}
	}
}

func TestBatchZeroDelayEndsAtFirstLook(t *testing.T) {
	h := NewHandler(Options{})
	b := create(t, h, "a")
	if b.ProcessingStatus != "in_progress" {
		t.Errorf("create answers %s", b.ProcessingStatus)
	}
	if got := retrieve(t, h, b.ID); got.ProcessingStatus != "ended" || got.RequestCounts.Succeeded != 1 {
		t.Errorf("%+v", got)
	}
}

func TestBatchCancel(t *testing.T) {
	clk := newClock()
	var mu sync.Mutex
	var seen []CallInfo
	h := NewHandler(Options{Now: clk.Now, Observe: func(c CallInfo) { mu.Lock(); seen = append(seen, c); mu.Unlock() },
		Batch: BatchOptions{CancelDelay: 30 * time.Second}})
	hang := "tok" + strings.Repeat("ab", 16)
	if err := h.Script(hang, []Step{{Hang: true, Times: -1}}); err != nil {
		t.Fatal(err)
	}
	// done finishes at once; stuck-1 and stuck-2 never do (a hanging step).
	b := create(t, h, "done", "stuck-1="+params("wait "+hang), "stuck-2="+params("wait too "+hang))
	clk.Add(time.Hour)
	if got := retrieve(t, h, b.ID); got.ProcessingStatus != "in_progress" {
		t.Fatalf("a batch with stuck requests: %+v", got)
	}

	cancelAt := clk.Now()
	got := decodeBatch(t, batchCall(t, h, http.MethodPost, BatchesPath+"/"+b.ID+"/cancel", "", nil))
	if got.ProcessingStatus != "canceling" || got.CancelInitiatedAt == nil || *got.CancelInitiatedAt != ts(cancelAt) ||
		got.RequestCounts != (RequestCounts{Processing: 3}) || got.ResultsURL != nil {
		t.Fatalf("cancel answered %+v", got)
	}
	clk.Add(10 * time.Second)
	// A second cancel changes nothing.
	again := decodeBatch(t, batchCall(t, h, http.MethodPost, BatchesPath+"/"+b.ID+"/cancel", "", nil))
	if again.ProcessingStatus != "canceling" || *again.CancelInitiatedAt != ts(cancelAt) {
		t.Errorf("second cancel: %+v", again)
	}
	if rec := batchCall(t, h, http.MethodDelete, BatchesPath+"/"+b.ID, "", nil); rec.Code != http.StatusBadRequest {
		t.Errorf("delete while canceling: %d", rec.Code)
	}

	clk.Add(20 * time.Second)
	got = retrieve(t, h, b.ID)
	if got.ProcessingStatus != "ended" || got.RequestCounts != (RequestCounts{Succeeded: 1, Canceled: 2}) ||
		*got.EndedAt != ts(cancelAt.Add(30*time.Second)) || *got.CancelInitiatedAt != ts(cancelAt) {
		t.Fatalf("after the cancel delay: %+v", got)
	}
	_, res := results(t, h, b.ID)
	if res["done"].Result.Type != "succeeded" || res["stuck-1"].Result.Type != "canceled" || res["stuck-2"].Result.Type != "canceled" {
		t.Errorf("results %+v", res)
	}
	if line := mustLine(t, h, b.ID, "stuck-1"); line != `{"custom_id":"stuck-1","result":{"type":"canceled"}}` {
		t.Errorf("canceled line %s", line)
	}
	rec := batchCall(t, h, http.MethodPost, BatchesPath+"/"+b.ID+"/cancel", "", nil)
	if rec.Code != http.StatusBadRequest || decodeError(t, rec).Error.Type != "invalid_request_error" {
		t.Errorf("cancel after the end: %d %s", rec.Code, rec.Body)
	}

	mu.Lock()
	defer mu.Unlock()
	results := map[string]CallInfo{}
	for _, c := range seen {
		if c.BatchID == b.ID {
			results[c.CustomID] = c
		}
	}
	if results["done"].Result != "succeeded" || results["done"].Status != 200 || results["stuck-1"].Result != "canceled" ||
		results["stuck-1"].Status != 0 || !strings.HasPrefix(results["stuck-1"].Input, "wait ") || len(results) != 3 {
		t.Errorf("observed %+v", results)
	}
	if st := h.Stats().Batch; st.Succeeded != 1 || st.Canceled != 2 {
		t.Errorf("stats %+v", st)
	}
}

// mustLine is the raw results line of custom_id.
func mustLine(t *testing.T, h http.Handler, batchID, customID string) string {
	t.Helper()
	rec := batchCall(t, h, http.MethodGet, BatchesPath+"/"+batchID+"/results", "", nil)
	for _, line := range strings.Split(strings.TrimSpace(rec.Body.String()), "\n") {
		if strings.Contains(line, fmt.Sprintf(`"custom_id":%q`, customID)) {
			return line
		}
	}
	t.Fatalf("no line for %s in %s", customID, rec.Body)
	return ""
}

func TestBatchCancelWaitsForRequestsThatFinishMeanwhile(t *testing.T) {
	clk := newClock()
	h := NewHandler(Options{Now: clk.Now, Batch: BatchOptions{Delay: time.Minute, CancelDelay: 2 * time.Minute}})
	b := create(t, h, "a", "b")
	decodeBatch(t, batchCall(t, h, http.MethodPost, BatchesPath+"/"+b.ID+"/cancel", "", nil))
	clk.Add(90 * time.Second)
	// Every request finished at one minute, before the cancel took effect: the
	// batch ended then, nothing canceled.
	got := retrieve(t, h, b.ID)
	if got.ProcessingStatus != "ended" || got.RequestCounts != (RequestCounts{Succeeded: 2}) ||
		*got.EndedAt != ts(clk.Now().Add(-30*time.Second)) || got.CancelInitiatedAt == nil {
		t.Errorf("%+v", got)
	}
}

func TestBatchExpiry(t *testing.T) {
	clk := newClock()
	h := NewHandler(Options{Now: clk.Now, Batch: BatchOptions{
		Delay: time.Minute, Expiry: 10 * time.Minute, Expire: Selector{Match: regexp.MustCompile(`^slow`)},
	}})
	t0 := clk.Now()
	b := create(t, h, "fast-1", "slow-1", "fast-2")
	if b.ExpiresAt != ts(t0.Add(10*time.Minute)) {
		t.Errorf("expires_at %s", b.ExpiresAt)
	}
	clk.Add(10*time.Minute - time.Nanosecond)
	if got := retrieve(t, h, b.ID); got.ProcessingStatus != "in_progress" {
		t.Fatalf("before expiry: %+v", got)
	}
	clk.Add(time.Nanosecond)
	got := retrieve(t, h, b.ID)
	if got.ProcessingStatus != "ended" || got.RequestCounts != (RequestCounts{Succeeded: 2, Expired: 1}) ||
		*got.EndedAt != got.ExpiresAt {
		t.Fatalf("at expiry: %+v", got)
	}
	if line := mustLine(t, h, b.ID, "slow-1"); line != `{"custom_id":"slow-1","result":{"type":"expired"}}` {
		t.Errorf("expired line %s", line)
	}

	// A batch slower than its expiry expires whole.
	h2 := NewHandler(Options{Now: clk.Now, Batch: BatchOptions{Delay: 2 * time.Hour, Expiry: time.Hour}})
	b2 := create(t, h2, "a", "b")
	clk.Add(time.Hour)
	if got := retrieve(t, h2, b2.ID); got.RequestCounts != (RequestCounts{Expired: 2}) || got.ProcessingStatus != "ended" {
		t.Errorf("%+v", got)
	}
}

func TestBatchErrors(t *testing.T) {
	h := NewHandler(Options{Batch: BatchOptions{
		Errors: Selector{Every: 3, Match: regexp.MustCompile(`^bad-`)},
	}})
	limited := "tok" + strings.Repeat("cd", 16)
	if err := h.Script(limited, []Step{{Status: 429}}); err != nil {
		t.Fatal(err)
	}
	b := create(t, h, "r1", "r2", "r3", "bad-4", "r5", "r6", "r7",
		"limited="+params("busy "+limited),
		`zero={"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`,
		`streamed={"model":"m","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		`empty={}`)
	got := retrieve(t, h, b.ID)
	if got.RequestCounts != (RequestCounts{Succeeded: 4, Errored: 7}) {
		t.Fatalf("counts %+v", got.RequestCounts)
	}
	_, res := results(t, h, b.ID)
	want := map[string]string{"r3": "api_error", "bad-4": "api_error", "r6": "api_error", "limited": "rate_limit_error",
		"zero": "invalid_request_error", "streamed": "invalid_request_error", "empty": "invalid_request_error"}
	for id, r := range res {
		typ, errored := want[id]
		if !errored {
			if r.Result.Type != "succeeded" {
				t.Errorf("%s: %+v", id, r)
			}
			continue
		}
		if r.Result.Type != "errored" || r.Result.Message != nil || r.Result.Error == nil || r.Result.Error.Type != "error" ||
			r.Result.Error.Error.Type != typ || r.Result.Error.Error.Message == "" {
			t.Errorf("%s: %+v, want errored %s", id, r, typ)
		}
	}
	if line := mustLine(t, h, b.ID, "limited"); !strings.HasPrefix(line,
		`{"custom_id":"limited","result":{"type":"errored","error":{"type":"error","error":{"type":"rate_limit_error","message":`) {
		t.Errorf("errored line %s", line)
	}

	// Rate 1 with another error type errors every request.
	h2 := NewHandler(Options{Seed: 7, Batch: BatchOptions{Errors: Selector{Rate: 1}, ErrorType: "overloaded_error"}})
	b2 := create(t, h2, "a", "b")
	if _, res := results(t, h2, retrieve(t, h2, b2.ID).ID); res["a"].Result.Error.Error.Type != "overloaded_error" {
		t.Errorf("%+v", res)
	}
	// Rate 0.3 errors about that share, reproducibly for a seed.
	count := func() int {
		h := NewHandler(Options{Seed: 42, Batch: BatchOptions{Errors: Selector{Rate: 0.3}}})
		ids := make([]string, 1000)
		for i := range ids {
			ids[i] = fmt.Sprint("r", i)
		}
		return retrieve(t, h, create(t, h, ids...).ID).RequestCounts.Errored
	}
	if n := count(); n < 240 || n > 360 || n != count() {
		t.Errorf("rate 0.3 errored %d of 1000", n)
	}
}

func TestBatchScripted(t *testing.T) {
	clk := newClock()
	h := NewHandler(Options{Now: clk.Now, Batch: BatchOptions{Delay: time.Second}})
	tok := "tok" + strings.Repeat("0f", 16)
	raw := `{"id":"msg_raw","type":"message","content":[]}`
	if err := h.Script(tok, []Step{{Text: str("ok "), Repeat: 3}, {RawBody: &raw}, {DelayMs: 5000}}); err != nil {
		t.Fatal(err)
	}
	b := create(t, h, "t1="+params("one "+tok), "t2="+params("two "+tok), "t3="+params("three "+tok), "t4="+params("four "+tok))
	clk.Add(time.Second)
	if got := retrieve(t, h, b.ID); got.ProcessingStatus != "in_progress" {
		t.Fatalf("the delayed request holds the batch: %+v", got)
	}
	clk.Add(5 * time.Second)
	got := retrieve(t, h, b.ID)
	if got.ProcessingStatus != "ended" || *got.EndedAt != ts(clk.Now()) {
		t.Fatalf("%+v", got)
	}
	_, res := results(t, h, b.ID)
	var m1 Response
	_ = json.Unmarshal(res["t1"].Result.Message, &m1)
	if m1.Content[0].Text != "ok ok ok " || m1.Usage.OutputTokens != Tokens("ok ok ok ") {
		t.Errorf("t1 %+v", m1)
	}
	if string(res["t2"].Result.Message) != raw {
		t.Errorf("t2 %s", res["t2"].Result.Message)
	}
	var m4 Response
	_ = json.Unmarshal(res["t4"].Result.Message, &m4)
	if !strings.HasPrefix(m4.Content[0].Text, Marker+` reply to "four `) {
		t.Errorf("t4 (no step left) %+v", m4)
	}
	calls := h.Calls(tok)
	if len(calls) != 4 || calls[0].Headers["x-api-key"] != "test-key" || !strings.Contains(string(calls[2].Body), "three") {
		t.Errorf("calls %+v", calls)
	}
}

func TestBatchValidation(t *testing.T) {
	h := NewHandler(Options{})
	long := strings.Repeat("x", 65)
	many := make([]string, MaxBatchRequests+1)
	for i := range many {
		many[i] = fmt.Sprintf(`{"custom_id":"r%d","params":{}}`, i)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"not json":           {`nope`, "not a JSON object"},
		"array":              {`[]`, "not a JSON object"},
		"no requests":        {`{}`, "requests: Field required"},
		"requests not list":  {`{"requests":{}}`, "requests: Input should be a valid list"},
		"no request":         {`{"requests":[]}`, "at least 1 item"},
		"too many":           {`{"requests":[` + strings.Join(many, ",") + `]}`, "at most 100000 items"},
		"extra field":        {`{"requests":[{"custom_id":"a","params":{}}],"x":1}`, "x: Extra inputs"},
		"request not object": {`{"requests":[1]}`, "requests.0: Input should be a valid dictionary"},
		"no custom_id":       {`{"requests":[{"params":{}}]}`, "requests.0.custom_id: Field required"},
		"custom_id number":   {`{"requests":[{"custom_id":1,"params":{}}]}`, "requests.0.custom_id: Input should be a valid string"},
		"custom_id empty":    {`{"requests":[{"custom_id":"","params":{}}]}`, "should match pattern '^[a-zA-Z0-9_-]{1,64}$'"},
		"custom_id too long": {`{"requests":[{"custom_id":"` + long + `","params":{}}]}`, "requests.0.custom_id: String should match"},
		"custom_id dot":      {`{"requests":[{"custom_id":"a.b","params":{}}]}`, "String should match"},
		"duplicate":          {batchBody("a", "b", "a"), `requests.2.custom_id: "a" is also the custom_id of requests.0`},
		"no params":          {`{"requests":[{"custom_id":"a"}]}`, "requests.0.params: Field required"},
		"params not object":  {`{"requests":[{"custom_id":"a","params":"hi"}]}`, "requests.0.params: Input should be a valid dictionary"},
		"request extra":      {`{"requests":[{"custom_id":"a","params":{},"x":1}]}`, "requests.0.x: Extra inputs"},
	} {
		rec := batchCall(t, h, http.MethodPost, BatchesPath, tc.body, nil)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d", name, rec.Code)
			continue
		}
		if e := decodeError(t, rec); e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, tc.want) {
			t.Errorf("%s: %+v, want %q", name, e, tc.want)
		}
	}
	if st := h.Stats().Batch; st.Created != 0 || st.Calls["create"] != 17 {
		t.Errorf("stats %+v", st)
	}
	// Exactly 64 characters is a valid custom_id.
	create(t, h, strings.Repeat("y", 64))
}

func TestBatchAuthAndRoutes(t *testing.T) {
	h := NewHandler(Options{})
	id := create(t, h, "a").ID
	routes := []struct{ method, path, body string }{
		{http.MethodPost, BatchesPath, batchBody("a")},
		{http.MethodGet, BatchesPath, ""},
		{http.MethodGet, BatchesPath + "/" + id, ""},
		{http.MethodGet, BatchesPath + "/" + id + "/results", ""},
		{http.MethodPost, BatchesPath + "/" + id + "/cancel", ""},
		{http.MethodDelete, BatchesPath + "/" + id, ""},
	}
	for _, r := range routes {
		rec := batchCall(t, h, r.method, r.path, r.body, map[string]string{"X-Api-Key": ""})
		if rec.Code != http.StatusUnauthorized || decodeError(t, rec).Error.Type != "authentication_error" {
			t.Errorf("%s %s without a key: %d", r.method, r.path, rec.Code)
		}
		rec = batchCall(t, h, r.method, r.path, r.body, map[string]string{"Anthropic-Version": ""})
		if rec.Code != http.StatusBadRequest || !strings.Contains(decodeError(t, rec).Error.Message, "anthropic-version") {
			t.Errorf("%s %s without a version: %d", r.method, r.path, rec.Code)
		}
		if rec.Header().Get(Header) != "true" || rec.Header().Get("Request-Id") == "" {
			t.Errorf("headers %v", rec.Header())
		}
	}
	// Authorization: Bearer and the SDK's newer version are accepted.
	bearer := map[string]string{"X-Api-Key": "", "Authorization": "Bearer sk-test", "Anthropic-Version": "2026-10-21"}
	for _, r := range routes[:4] {
		if rec := batchCall(t, h, r.method, r.path, r.body, bearer); rec.Code != http.StatusOK {
			t.Errorf("%s %s with Bearer: %d %s", r.method, r.path, rec.Code, rec.Body)
		}
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodPut, BatchesPath, 405},
		{http.MethodPost, BatchesPath + "/" + id, 405},
		{http.MethodPost, BatchesPath + "/" + id + "/results", 405},
		{http.MethodGet, BatchesPath + "/" + id + "/cancel", 405},
		{http.MethodGet, BatchesPath + "/" + id + "/nope", 404},
		{http.MethodGet, BatchesPath + "/msgbatch_nope", 404},
	} {
		rec := batchCall(t, h, tc.method, tc.path, "", nil)
		if rec.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.status)
		}
		decodeError(t, rec)
	}
}

type listPage struct {
	Data    []MessageBatch `json:"data"`
	HasMore bool           `json:"has_more"`
	FirstID *string        `json:"first_id"`
	LastID  *string        `json:"last_id"`
}

func list(t *testing.T, h http.Handler, query string) listPage {
	t.Helper()
	rec := batchCall(t, h, http.MethodGet, BatchesPath+query, "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("list%s: %d %s", query, rec.Code, rec.Body)
	}
	var p listPage
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBatchList(t *testing.T) {
	clk := newClock()
	h := NewHandler(Options{Now: clk.Now, Batch: BatchOptions{Delay: time.Minute}})
	if p := list(t, h, ""); len(p.Data) != 0 || p.HasMore || p.FirstID != nil || p.LastID != nil {
		t.Errorf("empty list %+v", p)
	}
	if raw := batchCall(t, h, http.MethodGet, BatchesPath, "", nil).Body.String(); !strings.Contains(raw, `"data":[]`) {
		t.Errorf("empty list %s", raw)
	}
	var ids []string // oldest first
	for range 5 {
		ids = append(ids, create(t, h, "a").ID)
		clk.Add(time.Second)
	}
	b := func(i int) string { return ids[i-1] } // b(5) is the newest
	pageIDs := func(p listPage) string {
		var s []string
		for _, d := range p.Data {
			for i, id := range ids {
				if d.ID == id {
					s = append(s, fmt.Sprint(i+1))
				}
			}
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		query, want string
		more        bool
	}{
		{"", "5,4,3,2,1", false},
		{"?limit=2", "5,4", true},
		{"?limit=2&after_id=" + b(4), "3,2", true},
		{"?limit=2&after_id=" + b(2), "1", false},
		{"?after_id=" + b(1), "", false},
		{"?limit=2&before_id=" + b(1), "3,2", true},
		{"?limit=2&before_id=" + b(3), "5,4", false},
		{"?before_id=" + b(5), "", false},
		{"?limit=1000", "5,4,3,2,1", false},
	} {
		p := list(t, h, tc.query)
		if got := pageIDs(p); got != tc.want || p.HasMore != tc.more {
			t.Errorf("%s: %s more=%v, want %s more=%v", tc.query, got, p.HasMore, tc.want, tc.more)
		}
		if len(p.Data) > 0 && (*p.FirstID != p.Data[0].ID || *p.LastID != p.Data[len(p.Data)-1].ID) {
			t.Errorf("%s: first %s last %s", tc.query, *p.FirstID, *p.LastID)
		}
	}
	// Listing settles: the batches have ended by now.
	clk.Add(time.Minute)
	for _, d := range list(t, h, "").Data {
		if d.ProcessingStatus != "ended" {
			t.Errorf("%+v", d)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?after_id=" + b(1) + "&before_id=" + b(2), "?after_id=msgbatch_nope", "?before_id=nope"} {
		rec := batchCall(t, h, http.MethodGet, BatchesPath+q, "", nil)
		if rec.Code != http.StatusBadRequest || decodeError(t, rec).Error.Type != "invalid_request_error" {
			t.Errorf("%s: %d", q, rec.Code)
		}
	}
}

func TestBatchOptionsCheckAndSet(t *testing.T) {
	for _, b := range []BatchOptions{
		{Delay: -1}, {CancelDelay: -1}, {Expiry: -1}, {Errors: Selector{Rate: 1.5}}, {Expire: Selector{Every: -1}}, {ErrorType: "nope"},
	} {
		if err := (Options{Batch: b}).Check(); err == nil {
			t.Errorf("%+v accepted", b)
		}
		if _, err := Start(Options{Batch: b}, 0); err == nil {
			t.Errorf("Start accepted %+v", b)
		}
	}
	clk := newClock()
	h := NewHandler(Options{Now: clk.Now, Batch: BatchOptions{Delay: time.Hour}})
	old := create(t, h, "a")
	if err := h.SetBatchOptions(BatchOptions{Errors: Selector{Rate: 2}}); err == nil {
		t.Error("SetBatchOptions accepted rate 2")
	}
	if err := h.SetBatchOptions(BatchOptions{Errors: Selector{Every: 1}}); err != nil {
		t.Fatal(err)
	}
	fresh := create(t, h, "a")
	// The old batch keeps its hour and its result; the new one has neither.
	if got := retrieve(t, h, fresh.ID); got.RequestCounts != (RequestCounts{Errored: 1}) {
		t.Errorf("new batch %+v", got)
	}
	if got := retrieve(t, h, old.ID); got.ProcessingStatus != "in_progress" {
		t.Errorf("old batch %+v", got)
	}
	clk.Add(time.Hour)
	if got := retrieve(t, h, old.ID); got.RequestCounts != (RequestCounts{Succeeded: 1}) {
		t.Errorf("old batch %+v", got)
	}
}

// TestBatchConcurrent runs every operation from several goroutines (run it
// with -race).
func TestBatchConcurrent(t *testing.T) {
	clk := newClock()
	h := NewHandler(Options{Now: clk.Now, Batch: BatchOptions{Delay: time.Second, Errors: Selector{Rate: 0.2}}})
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				b := create(t, h, "a", "b", "c")
				retrieve(t, h, b.ID)
				list(t, h, "?limit=5")
				if i%3 == 0 {
					batchCall(t, h, http.MethodPost, BatchesPath+"/"+b.ID+"/cancel", "", nil)
				}
				if w == 0 {
					clk.Add(100 * time.Millisecond)
				}
				batchCall(t, h, http.MethodGet, BatchesPath+"/"+b.ID+"/results", "", nil)
				post(t, h, validBody, nil)
			}
		}()
	}
	wg.Wait()
	clk.Add(time.Hour)
	total := RequestCounts{}
	for _, d := range list(t, h, "?limit=1000").Data {
		if d.ProcessingStatus != "ended" {
			t.Errorf("%+v", d)
		}
		c := d.RequestCounts
		if c.Succeeded+c.Errored+c.Canceled+c.Expired != 3 || c.Processing != 0 {
			t.Errorf("counts %+v", c)
		}
		total.Succeeded += c.Succeeded
		total.Errored += c.Errored
		total.Canceled += c.Canceled
	}
	st := h.Stats()
	if st.Batch.Created != workers*each || st.Batch.Requests != 3*workers*each ||
		st.Batch.Succeeded != int64(total.Succeeded) || st.Batch.Errored != int64(total.Errored) ||
		st.Batch.Canceled != int64(total.Canceled) || st.Total != workers*each {
		t.Errorf("stats %+v, totals %+v", st, total)
	}
}

func TestBatchOptionsRoute(t *testing.T) {
	clk := newClock()
	h := NewHandler(Options{Now: clk.Now})
	rec := batchCall(t, h, http.MethodGet, BatchOptionsPath, "", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"expiryMs":86400000`) || !strings.Contains(rec.Body.String(), `"errorType":"api_error"`) {
		t.Errorf("defaults: %d %s", rec.Code, rec.Body)
	}
	rec = batchCall(t, h, http.MethodPost, BatchOptionsPath,
		`{"delayMs":1000,"expiryMs":5000,"errors":{"match":"^bad"},"errorType":"overloaded_error","expire":{"every":3}}`, nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"match":"^bad"`) {
		t.Fatalf("set: %d %s", rec.Code, rec.Body)
	}
	b := create(t, h, "bad-1", "ok-2", "ok-3")
	clk.Add(time.Second)
	if got := retrieve(t, h, b.ID); got.ProcessingStatus != "in_progress" {
		t.Fatalf("%+v", got)
	}
	clk.Add(4 * time.Second)
	if got := retrieve(t, h, b.ID); got.RequestCounts != (RequestCounts{Succeeded: 1, Errored: 1, Expired: 1}) {
		t.Errorf("%+v", got)
	}
	for _, body := range []string{`{"errors":{"match":"("}}`, `{"delayMs":-1}`, `{"nope":1}`, `{"errors":{"rate":2}}`} {
		if rec := batchCall(t, h, http.MethodPost, BatchOptionsPath, body, nil); rec.Code != 400 {
			t.Errorf("%s: %d", body, rec.Code)
		}
	}
	if rec := batchCall(t, h, http.MethodDelete, BatchOptionsPath, "", nil); rec.Code != 405 {
		t.Errorf("DELETE: %d", rec.Code)
	}
}
