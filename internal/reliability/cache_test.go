package reliability

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
)

const cacheStack = `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:products:
    - name: relay
      pattern: edge-cache
      tiers: {standard: 1000000}
      systemPrompt: Answer in one sentence.
      settings:
        rateLimitPerMinute: 1000000
`

type askResult struct {
	status int
	cache  string
	// shared: a MISS answered by another request's model call (x-cache-shared)
	shared bool
	answer string
	code   string
	// message: the error's message (the door's and the model limiter's 429
	// share rate_limited; the message tells them apart)
	message string
	retry   string
	// an upstream_error's request id (error.request_id, x-request-id), and
	// whether its body holds the stand-in's own words (it must not)
	requestID, headerID string
	apiWords            bool
}

func ask(t *testing.T, env *Env, base, question string) askResult {
	t.Helper()
	r, err := env.Do(http.MethodPost, base+"/ask", jsonBody(t, map[string]string{"input": question}), "Content-Type", "application/json")
	if err != nil {
		t.Fatal(err)
	}
	out := askResult{status: r.Status, cache: r.Header.Get("x-cache"), shared: r.Header.Get("x-cache-shared") == "1", retry: r.Header.Get("retry-after")}
	if r.Status == 200 {
		var v struct {
			Answer string `json:"answer"`
		}
		if err := json.Unmarshal(r.Body, &v); err != nil || v.Answer == "" {
			t.Fatalf("200 without an answer: %s", clip(r.Body))
		}
		out.answer = v.Answer
	} else {
		code, err := errorShape(r.Body)
		if err != nil {
			t.Fatalf("%d: %v", r.Status, err)
		}
		out.code = code
		var v struct {
			Error struct {
				RequestID string `json:"request_id"`
				Message   string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(r.Body, &v)
		out.requestID, out.headerID, out.message = v.Error.RequestID, r.Header.Get("x-request-id"), v.Error.Message
		out.apiWords = strings.Contains(string(r.Body), "stand-in")
	}
	return out
}

// wave asks n questions at once (at most 32 in flight).
func wave(t *testing.T, env *Env, base string, questions []string) []askResult {
	t.Helper()
	out := make([]askResult, len(questions))
	var mu sync.Mutex
	errs := Parallel(deadline(t, time.Minute), len(questions), 32, func(i int) error {
		r := ask(t, env, base, questions[i])
		mu.Lock()
		out[i] = r
		mu.Unlock()
		return nil
	})
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	return out
}

// waitHit asks until the answer comes from the cache (it is stored in
// ctx.waitUntil, just after the MISS is answered), for at most 20 s.
func waitHit(t *testing.T, env *Env, base, question string) askResult {
	t.Helper()
	ctx := deadline(t, 20*time.Second)
	for {
		if r := ask(t, env, base, question); r.cache == "HIT" {
			return r
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no HIT for %q within 20 s", question)
			return askResult{}
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// keyDiff lists the keys of after that before lacks, and the other way round.
func keyDiff(before, after []string) (added, removed []string) {
	in := func(list []string, k string) bool { return slices.Contains(list, k) }
	for _, k := range after {
		if !in(before, k) {
			added = append(added, k)
		}
	}
	for _, k := range before {
		if !in(after, k) {
			removed = append(removed, k)
		}
	}
	return added, removed
}

// The edge cache: a wave of identical questions, then a second wave (in other
// spellings) answered entirely from the cache; a model failure is never cached.
func TestEdgeCache(t *testing.T) {
	k := Size(50, 200)
	dir := project(t, "rel", cacheStack, nil)
	cl := newCalls()
	env, logs := start(t, dir, "rel", devmodel.Options{Latency: 50 * time.Millisecond, Observe: cl.observe})
	base := env.URL("relay")
	bucket := env.Plan.Product("relay").R2Buckets[0].Name // answers/<hex>.json
	model := env.RT.Model()
	run := fmt.Sprintf("%x", time.Now().UnixNano())

	q := "What is a Cloudflare Worker? " + run
	first := wave(t, env, base, slices.Repeat([]string{q}, k))
	misses, shared := 0, 0
	for _, r := range first {
		if r.status != 200 || r.answer != first[0].answer {
			t.Fatalf("first wave: %+v, want 200 with %q", r, first[0].answer)
		}
		if r.cache == "MISS" {
			misses++
			if r.shared {
				shared++
			}
		}
	}
	calls := model.Stats().Total
	paid, abandoned := cl.paid(q) // a 200 the Worker retried after is not paid (calls.outcomes)
	t.Logf("first wave of %d identical questions: %d MISS (%d of them shared another's call), %d model calls (%d abandoned 200s)", k, misses, shared, calls, abandoned)
	// Concurrent identical misses in one isolate share one call: each paid
	// call answers one unshared MISS.
	if paid != misses-shared || paid > 5 || int(calls) != paid+abandoned {
		t.Errorf("%d model calls, %d paid, for %d misses, %d of them shared (want one paid call per unshared miss, at most 5)", calls, paid, misses, shared)
	}
	waitHit(t, env, base, q)

	// The second wave, in variants normalisation removes before the model
	// (so the key), calls no model.
	variants := []string{q, "  " + q + "\r\n", strings.ReplaceAll(q, " ", "\u00a0"), strings.ReplaceAll(q, "Worker", "Wor\u200bker"), q + "\U000E0041\U000E0042"}
	var second []string
	for i := 0; i < k; i++ {
		second = append(second, variants[i%len(variants)])
	}
	before := model.Stats().Total
	for i, r := range wave(t, env, base, second) {
		if r.status != 200 || r.cache != "HIT" || r.answer != first[0].answer {
			t.Errorf("second wave, %q: %+v, want a HIT with the first answer", second[i], r)
		}
	}
	if after := model.Stats().Total; after != before {
		t.Errorf("the second wave made %d model calls", after-before)
	}

	// A failing model: 502 upstream_error, and nothing is cached.
	keysBefore, err := env.R2Keys(bucket, "answers/")
	if err != nil {
		t.Fatal(err)
	}
	failing := "Will this be cached? " + run
	for _, f := range []struct {
		share float64
		what  string
	}{{0, "500/529"}, {1, "429 with retry-after"}} {
		if err := model.SetFaults(1, f.share); err != nil {
			t.Fatal(err)
		}
		for _, r := range wave(t, env, base, slices.Repeat([]string{failing}, 8)) {
			if r.status != http.StatusBadGateway || r.code != "upstream_error" {
				t.Errorf("model failing with %s: %+v, want 502 upstream_error", f.what, r)
			}
			if r.requestID == "" || r.requestID != r.headerID || r.apiWords {
				t.Errorf("model failing with %s: %+v, want a request id in the body and x-request-id, and not the API's words", f.what, r)
			}
			if f.share == 1 && r.retry == "" {
				t.Errorf("a 429 from the model: 502 without retry-after: %+v", r)
			}
		}
	}
	// A marker question after the failures, the model working again: once
	// its answer is stored (in its own ctx.waitUntil), a store the failed
	// asks had started before it would be done too. The marker's key is the
	// only one added.
	if err := model.SetFaults(0, 0); err != nil {
		t.Fatal(err)
	}
	marker := "A marker after the failures " + run
	if r := ask(t, env, base, marker); r.status != 200 || r.cache != "MISS" {
		t.Fatalf("marker: %+v, want a MISS", r)
	}
	waitHit(t, env, base, marker)
	keys, err := env.R2Keys(bucket, "answers/")
	if err != nil {
		t.Fatal(err)
	}
	if added, removed := keyDiff(keysBefore, keys); len(added) != 1 || len(removed) != 0 {
		t.Errorf("a model failure changed the cache: added %v, removed %v (the marker adds one key)", added, removed)
	}
	if r := ask(t, env, base, failing); r.status != 200 || r.cache != "MISS" {
		t.Errorf("after the failures: %+v, want a MISS", r)
	}
	waitHit(t, env, base, failing)

	// Half the calls failing, many questions at once: what is cached is an answer.
	if err := model.SetFaults(0.5, 0.3); err != nil {
		t.Fatal(err)
	}
	cachedBefore, err := env.R2Keys(bucket, "answers/")
	if err != nil {
		t.Fatal(err)
	}
	var mixed []string
	for i := 0; i < k; i++ {
		mixed = append(mixed, fmt.Sprintf("question %d of run %s", i%10, run))
	}
	statuses := map[int]int{}
	answered := map[string]bool{} // questions answered at least once: each is cached once
	for i, r := range wave(t, env, base, mixed) {
		statuses[r.status]++
		if r.status == 200 {
			answered[mixed[i]] = true
		} else if r.code != "upstream_error" {
			t.Errorf("mixed wave: %+v", r)
		}
	}
	t.Logf("a wave of %d questions with half the model calls failing: %v; %d of 10 questions answered", k, statuses, len(answered))
	if err := model.SetFaults(0, 0); err != nil {
		t.Fatal(err)
	}
	// A marker, asked after the wave: once it is cached, the answers' stores
	// (and any a failure had started) are done. Every answered question has
	// its key, the marker one more, and nothing else was added.
	marker = "A marker after the mixed wave " + run
	if r := ask(t, env, base, marker); r.status != 200 || r.cache != "MISS" {
		t.Fatalf("marker: %+v, want a MISS", r)
	}
	waitHit(t, env, base, marker)
	keys, err = env.R2Keys(bucket, "answers/")
	if err != nil {
		t.Fatal(err)
	}
	if added, removed := keyDiff(cachedBefore, keys); len(added) != len(answered)+1 || len(removed) != 0 {
		t.Errorf("after the mixed wave: %d keys added (want %d: the answered questions and the marker), %d removed", len(added), len(answered)+1, len(removed))
	}
	for _, key := range keys {
		raw, ok, err := env.R2Get(bucket, key)
		var v struct {
			Answer string `json:"answer"`
		}
		if err != nil || !ok || json.Unmarshal(raw, &v) != nil || !strings.HasPrefix(v.Answer, devmodel.Marker) {
			t.Errorf("cache entry %s: %s (%v)", key, clip(raw), err)
		}
	}
	if strings.Contains(logs.String(), "internal error") {
		t.Error("a Worker logged an internal error")
	}
}
