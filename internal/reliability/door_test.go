package reliability

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// checkDoor: one caller (a customer, each from its own CF-Connecting-IP) past its door
// limit meets 429 rate_limited while another caller is still served, on the
// edge cache (every POST counted, hits too) and on the pipeline (jobs
// counted). The products take keys, so a request's one door is its
// customer's tier: these customers are of the badInputStack's tier "door"
// (30 a minute on relay, 100 jobs on pipe; the other cases' customers are
// of the standard tier, 1,000,000, so that they never meet a door).
func checkDoor(t *testing.T, env *Env, auth []string) {
	t.Helper()
	// The products have customer keys, so a caller is a customer: each
	// address sends the key of a customer of its own.
	keys := map[string]string{}
	from := func(product, ip string) []string {
		k := product + " " + ip
		if keys[k] == "" {
			keys[k] = env.TierKey(t, product, "caller-"+strings.ReplaceAll(ip, ".", "-"), "door")
		}
		return []string{"Content-Type", "application/json", "CF-Connecting-IP", ip, "Authorization", "Bearer " + keys[k]}
	}
	_ = auth // the stack's token guards the admin routes only
	// The relay's door: its tier "door", 30 a minute.
	const relayDoor = 30
	ask := func(ip string) *Response {
		r, err := env.Do(http.MethodPost, env.URL("relay")+"/ask", []byte(`{"input":"a door question"}`), from("relay", ip)...)
		if err != nil {
			t.Fatalf("relay from %s: %v", ip, err)
		}
		return r
	}
	passed := 0
	for ; passed <= relayDoor+5; passed++ {
		if r := ask("198.51.100.7"); r.Status == http.StatusTooManyRequests {
			if code, _ := errorShape(r.Body); code != "rate_limited" || r.Header.Get("Retry-After") == "" {
				t.Errorf("relay: the abusive caller's 429: %s %q", code, r.Header.Get("Retry-After"))
			}
			break
		} else if r.Status != http.StatusOK {
			t.Fatalf("relay from the abusive caller: %v", r)
		}
	}
	if passed > relayDoor {
		t.Errorf("relay: %d requests from one caller passed its door of %d a minute", passed, relayDoor)
	}
	if r := ask("203.0.113.9"); r.Status != http.StatusOK {
		t.Errorf("relay: another caller after the abusive one's 429: %v", r)
	}

	// The pipeline's door counts jobs: its tier "door", 100 a minute (one full POST).
	post := func(ip string, n int) *Response {
		inputs := make([]string, n)
		for i := range inputs {
			inputs[i] = fmt.Sprintf("door job %d", i)
		}
		r, err := env.Do(http.MethodPost, env.URL("pipe")+"/jobs", jsonMust(map[string]any{"inputs": inputs}), from("pipe", ip)...)
		if err != nil {
			t.Fatalf("pipe from %s: %v", ip, err)
		}
		return r
	}
	if r := post("198.51.100.7", 100); r.Status != http.StatusAccepted {
		t.Fatalf("pipe: 100 jobs from one caller: %v", r)
	}
	if r := post("198.51.100.7", 1); r.Status != http.StatusTooManyRequests {
		t.Errorf("pipe: the 101st job from one caller in a minute: %v, want 429", r)
	}
	if r := post("203.0.113.9", 1); r.Status != http.StatusAccepted {
		t.Errorf("pipe: another caller after the abusive one's 429: %v", r)
	}
	t.Logf("door: relay let one caller through %d times before 429; pipe took 100 jobs, refused the 101st", passed)
}
