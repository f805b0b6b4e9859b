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
      systemPrompt: Answer in one sentence.
      settings:
        rateLimitPerMinute: 1000000
`

type askResult struct {
	status int
	cache  string
	answer string
	code   string
	retry  string
}

func ask(t *testing.T, env *Env, base, question string) askResult {
	t.Helper()
	r, err := env.Do(http.MethodPost, base+"/ask", jsonBody(t, map[string]string{"input": question}), "Content-Type", "application/json")
	if err != nil {
		t.Fatal(err)
	}
	out := askResult{status: r.Status, cache: r.Header.Get("x-cache"), retry: r.Header.Get("retry-after")}
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
// ctx.waitUntil, just after the MISS is answered).
func waitHit(t *testing.T, env *Env, base, question string) askResult {
	t.Helper()
	for i := 0; i < 100; i++ {
		if r := ask(t, env, base, question); r.cache == "HIT" {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no HIT for %q", question)
	return askResult{}
}

// The edge cache: a wave of identical questions, then a second wave (in other
// spellings) answered entirely from the cache; a model failure is never cached.
func TestEdgeCache(t *testing.T) {
	k := Size(50, 200)
	dir := project(t, "rel", cacheStack, nil)
	env, logs := start(t, dir, "rel", devmodel.Options{Latency: 50 * time.Millisecond})
	base := env.URL("relay")
	cacheKV := env.Plan.Product("relay").KVNamespaces[0].Title
	model := env.RT.Model()
	run := fmt.Sprintf("%x", time.Now().UnixNano())

	q := "What is a Cloudflare Worker? " + run
	first := wave(t, env, base, slices.Repeat([]string{q}, k))
	misses := 0
	for _, r := range first {
		if r.status != 200 || r.answer != first[0].answer {
			t.Fatalf("first wave: %+v, want 200 with %q", r, first[0].answer)
		}
		if r.cache == "MISS" {
			misses++
		}
	}
	calls := model.Stats().Total
	t.Logf("first wave of %d identical questions: %d MISS, %d model calls (no coalescing of concurrent misses)", k, misses, calls)
	if int(calls) != misses {
		t.Errorf("%d model calls for %d misses", calls, misses)
	}
	waitHit(t, env, base, q)

	// The second wave, in variants the cache key normalises away, calls no model.
	variants := []string{q, strings.ToUpper(q), "  " + q + "  ", strings.ReplaceAll(q, "?", ""), strings.ReplaceAll(q, " ", "   ")}
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
	keysBefore, err := env.KVKeys(cacheKV, "")
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
			if f.share == 1 && r.retry == "" {
				t.Errorf("a 429 from the model: 502 without retry-after: %+v", r)
			}
		}
	}
	time.Sleep(500 * time.Millisecond) // any ctx.waitUntil store would be done
	if keys, err := env.KVKeys(cacheKV, ""); err != nil || !slices.Equal(keys, keysBefore) {
		t.Errorf("a model failure changed the cache: %v -> %v (%v)", keysBefore, keys, err)
	}
	if err := model.SetFaults(0, 0); err != nil {
		t.Fatal(err)
	}
	if r := ask(t, env, base, failing); r.status != 200 || r.cache != "MISS" {
		t.Errorf("after the failures: %+v, want a MISS", r)
	}
	waitHit(t, env, base, failing)

	// Half the calls failing, many questions at once: what is cached is an answer.
	if err := model.SetFaults(0.5, 0.3); err != nil {
		t.Fatal(err)
	}
	var mixed []string
	for i := 0; i < k; i++ {
		mixed = append(mixed, fmt.Sprintf("question %d of run %s", i%10, run))
	}
	statuses := map[int]int{}
	for _, r := range wave(t, env, base, mixed) {
		statuses[r.status]++
		if r.status != 200 && r.code != "upstream_error" {
			t.Errorf("mixed wave: %+v", r)
		}
	}
	t.Logf("a wave of %d questions with half the model calls failing: %v", k, statuses)
	_ = model.SetFaults(0, 0)
	time.Sleep(500 * time.Millisecond)
	keys, err := env.KVKeys(cacheKV, "ai:")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		raw, ok, err := env.KVGet(cacheKV, key)
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
