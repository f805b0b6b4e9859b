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

func TestRunPrintsURLServesAndStopsWithStdin(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run([]string{"-exit-with-stdin", "-rpm", "5"}, inR, outW, io.Discard, nil) }()

	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var ready struct{ URL string }
	if err := json.Unmarshal([]byte(line), &ready); err != nil || !strings.HasPrefix(ready.URL, "http://127.0.0.1:") {
		t.Fatalf("ready line %q: %v", line, err)
	}
	req, _ := http.NewRequest(http.MethodPost, ready.URL+devmodel.MessagesPath,
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
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop when stdin closed")
	}
	if _, err := http.Get(ready.URL + devmodel.StatsPath); err == nil {
		t.Error("still serving after stop")
	}
}

func TestRunStopsOnStop(t *testing.T) {
	stop := make(chan struct{})
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(nil, strings.NewReader(""), outW, io.Discard, stop) }()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var ready struct{ URL string }
	_ = json.Unmarshal([]byte(line), &ready)
	// Without -exit-with-stdin, an empty stdin does not stop it; stop does.
	resp, err := http.Get(ready.URL + devmodel.StatsPath)
	if err != nil {
		t.Fatalf("stopped with stdin: %v", err)
	}
	resp.Body.Close()
	close(stop)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-error-rate", "2"}, {"-nope"}, {"extra"}} {
		if err := run(args, strings.NewReader(""), io.Discard, io.Discard, nil); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
