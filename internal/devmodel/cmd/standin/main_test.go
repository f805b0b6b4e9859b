package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/devmodel"
)

// start runs the stand-in in the background and returns the URL of its
// ready line, and the channel run's error arrives on.
func start(t *testing.T, args []string, stdin io.Reader, stop <-chan struct{}) (string, <-chan error) {
	t.Helper()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(args, stdin, outW, io.Discard, stop) }()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var ready struct{ URL string }
	if err := json.Unmarshal([]byte(line), &ready); err != nil || !strings.HasPrefix(ready.URL, "http://127.0.0.1:") {
		t.Fatalf("ready line %q: %v", line, err)
	}
	return ready.URL, done
}

// waitStopped fails the test unless run returns without an error within 10 s.
func waitStopped(t *testing.T, done <-chan error, failure string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal(failure)
	}
}

func TestRunPrintsURLServesAndStopsWithStdin(t *testing.T) {
	inR, inW := io.Pipe()
	url, done := start(t, []string{"-exit-with-stdin", "-rpm", "5"}, inR, nil)
	req, _ := http.NewRequest(http.MethodPost, url+devmodel.MessagesPath,
		strings.NewReader(`{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer k")
	req.Header.Set("Anthropic-Version", "2023-06-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Anthropic-Ratelimit-Requests-Limit") != "5" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}

	inW.Close()
	waitStopped(t, done, "run did not stop when stdin closed")
	if _, err := http.Get(url + devmodel.StatsPath); err == nil {
		t.Error("still serving after stop")
	}
}

func TestRunStopsOnStop(t *testing.T) {
	stop := make(chan struct{})
	url, done := start(t, nil, strings.NewReader(""), stop)
	// Without -exit-with-stdin, an empty stdin does not stop it; stop does.
	resp, err := http.Get(url + devmodel.StatsPath)
	if err != nil {
		t.Fatalf("stopped with stdin: %v", err)
	}
	resp.Body.Close()
	close(stop)
	waitStopped(t, done, "run did not stop")
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-error-rate", "2"}, {"-nope"}, {"extra"}, {"-batch-error-match", "("},
		{"-batch-error-rate", "-1"}, {"-batch-error-type", "nope"}, {"-batch-delay", "-1s"}} {
		if err := run(args, strings.NewReader(""), io.Discard, io.Discard, nil); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestRunBatchFlags(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	url, _ := start(t, []string{"-batch-delay", "1h", "-batch-expiry", "2h", "-batch-error-match", "^bad", "-batch-error-type", "overloaded_error"},
		strings.NewReader(""), stop)
	do := func(method, path, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("X-Api-Key", "k")
		req.Header.Set("Anthropic-Version", "2023-06-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, err)
		}
		return v
	}
	p := `{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`
	b := do(http.MethodPost, devmodel.BatchesPath, `{"requests":[{"custom_id":"bad-1","params":`+p+`},{"custom_id":"ok-1","params":`+p+`}]}`)
	created, _ := time.Parse(time.RFC3339, b["created_at"].(string))
	expires, _ := time.Parse(time.RFC3339, b["expires_at"].(string))
	if expires.Sub(created) != 2*time.Hour || b["processing_status"] != "in_progress" {
		t.Errorf("batch %v", b)
	}
	// An hour's delay: still in progress; cancel ends it with both canceled.
	id := b["id"].(string)
	if got := do(http.MethodGet, devmodel.BatchesPath+"/"+id, ""); got["processing_status"] != "in_progress" {
		t.Errorf("%v", got)
	}
	do(http.MethodPost, devmodel.BatchesPath+"/"+id+"/cancel", "")
	got := do(http.MethodGet, devmodel.BatchesPath+"/"+id, "")
	if counts := got["request_counts"].(map[string]any); got["processing_status"] != "ended" || counts["canceled"] != 2.0 {
		t.Errorf("%v", got)
	}
}
