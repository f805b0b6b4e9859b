package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/cftest"
	"github.com/zerocost/zerocost/internal/devrun/devruntest"
)

const acct = "0123456789abcdef0123456789abcdef"

func start(t *testing.T, args ...string) (*cftest.Server, *devruntest.Log, *devruntest.Log, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr devruntest.Log
	started := make(chan *cftest.Server, 1)
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), &stdout, &stderr, started)
	}()
	var s *cftest.Server
	select {
	case s = <-started:
	case code := <-done:
		cancel()
		t.Fatalf("fakecf exited %d: %s", code, stderr.String())
	}
	stop := func() int {
		cancel()
		return <-done
	}
	t.Cleanup(func() { cancel() })
	return s, &stdout, &stderr, stop
}

func get(t *testing.T, url string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer tok")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestRunServesLogsAndStops(t *testing.T) {
	s, stdout, stderr, stop := start(t, "--account", acct+",ffffffffffffffffffffffffffffffff", "--zone", "fedcba9876543210fedcba9876543210=example.com", "--subdomain", "zc", "--strict")
	line := stdout.String()
	if !strings.Contains(line, "FAKE Cloudflare API for local testing") || !strings.Contains(line, s.BaseURL()) || strings.Count(line, "\n") != 1 {
		t.Errorf("banner %q", line)
	}
	if code := get(t, s.BaseURL()+"accounts/"+acct+"/workers/subdomain"); code != 200 {
		t.Errorf("subdomain: %d", code)
	}
	if code := get(t, s.BaseURL()+"accounts/ffffffffffffffffffffffffffffffff/storage/kv/namespaces"); code != 200 {
		t.Errorf("second account: %d", code)
	}
	if code := get(t, s.BaseURL()+"accounts/"+acct+"/no/such/thing"); code != 400 {
		t.Errorf("unknown path: %d", code)
	}
	if code := get(t, s.URL+"/__fake/state"); code != 200 {
		t.Errorf("state: %d", code)
	}
	if code := stop(); code != 1 {
		t.Errorf("--strict with an unknown request: exit %d", code)
	}
	log := stderr.String()
	for _, want := range []string{"GET /accounts/" + acct + "/workers/subdomain -> 200", "UNKNOWN GET /accounts/" + acct + "/no/such/thing -> 400", "no route: GET /accounts/" + acct + "/no/such/thing"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestRunFlags(t *testing.T) {
	_, _, _, stop := start(t, "--account", acct)
	if code := stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	var out, errOut devruntest.Log
	if code := run(context.Background(), nil, &out, &errOut, nil); code != 2 || !strings.Contains(errOut.String(), "--account") {
		t.Errorf("no account: %d %s", code, errOut.String())
	}
	if code := run(context.Background(), []string{"--account", acct, "--addr", "not an address"}, &out, &errOut, nil); code != 1 {
		t.Errorf("bad address: %d", code)
	}
}
