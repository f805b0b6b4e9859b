package reliability

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/zerocost/zerocost/internal/devrun/devruntest"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	devcmd "github.com/zerocost/zerocost/internal/cmd/dev"
	plancmd "github.com/zerocost/zerocost/internal/cmd/plan"
	rendercmd "github.com/zerocost/zerocost/internal/cmd/render"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/devmodel"
	"github.com/zerocost/zerocost/internal/devrun"
)

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// secretsSeen lists which secrets a text holds.
func secretsSeen(text string, secrets map[string]string) []string {
	var out []string
	for name, v := range secrets {
		if strings.Contains(text, v) {
			out = append(out, name)
		}
	}
	return out
}

// The API key and the bearer token never appear in rendered files, the plan,
// the dev runtime's output (its logs, Miniflare's, the Workers' console), its
// files on disk, or the Workers' answers — while the Workers use both.
func TestSecretsStaySecret(t *testing.T) {
	needNode(t)
	apiKey := "sk-ant-api03-zcrel-" + randomHex(t, 16)
	authToken := "zc-token-" + randomHex(t, 16)
	keyCipher := "v1:ZCRELKEY" + randomHex(t, 12)
	tokenCipher := "v1:ZCRELTOKEN" + randomHex(t, 12)
	secrets := map[string]string{"the API key": apiKey, "the bearer token": authToken,
		"the API key's ciphertext": keyCipher, "the token's ciphertext": tokenCipher}

	// A model API that checks the key, failing a share of calls so the error
	// paths run (and log) too.
	var keysMu sync.Mutex
	keys := map[string]int{}
	h := devmodel.NewHandler(devmodel.Options{ErrorRate: 0.4, RateLimitShare: 0.3})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keysMu.Lock()
		keys[r.Header.Get("X-Api-Key")]++
		keysMu.Unlock()
		if r.Header.Get("X-Api-Key") != apiKey {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
			return
		}
		h.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	stackFile := fmt.Sprintf(`config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:anthropicBaseUrl: http://%s
  zerocost:anthropicApiKey:
    secure: %s
  zerocost:authToken:
    secure: %s
  zerocost:products:
    - name: agent
      pattern: event-agent
      tiers: {standard: 1000000}
      hooks: hooks/agent.ts
    - name: pipe
      pattern: async-pipeline
      tiers: {standard: 1000000}
      settings:
        batchSize: 5
        batchTimeoutSeconds: 1
        maxRetries: 1
        retryDelaySeconds: 1
    - name: relay
      pattern: edge-cache
      tiers: {standard: 1000000}
`, ln.Addr(), keyCipher, tokenCipher)
	// Hooks that log what they see, as a careless product might.
	hooks := `import type { Hooks } from "zerocost:hooks";
export const buildRequest: NonNullable<Hooks["buildRequest"]> = (input, ctx) => {
  console.log("agent hook: building a request for", input, "model", ctx.model);
  return ctx.defaultRequest;
};
`
	dir := project(t, "sec", stackFile, map[string]string{"hooks/agent.ts": hooks})
	getenv := func(k string) string {
		switch k {
		case "ANTHROPIC_API_KEY":
			return apiKey
		case "ZEROCOST_AUTH_TOKEN":
			return authToken
		}
		return ""
	}
	factory := func() (*cmdutil.Factory, *devruntest.Log, *devruntest.Log) {
		out, errOut := &devruntest.Log{}, &devruntest.Log{}
		return &cmdutil.Factory{IO: &cmdutil.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut}, ProjectDir: dir,
			HTTPClient: func() *http.Client { return http.DefaultClient }, Getenv: getenv}, out, errOut
	}
	check := func(what, text string) {
		t.Helper()
		if seen := secretsSeen(text, secrets); len(seen) > 0 {
			t.Errorf("%s holds %s", what, strings.Join(seen, " and "))
		}
	}
	checkTree := func(what, root string) int {
		t.Helper()
		n := 0
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n++
			rel, _ := filepath.Rel(root, p)
			check(what+" "+rel, string(data))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// zerocost render.
	f, out, errOut := factory()
	rendered := t.TempDir()
	if err := rendercmd.Run(&rendercmd.Options{F: f, Stack: "sec", Out: rendered}); err != nil {
		t.Fatal(err)
	}
	check("render's output", out.String()+errOut.String())
	if n := checkTree("rendered file", rendered); n != 6 {
		t.Errorf("render wrote %d files, want 6", n)
	}

	// zerocost plan, as JSON and as text.
	for _, asJSON := range []bool{true, false} {
		f, out, errOut := factory()
		if err := plancmd.Run(&plancmd.Options{F: f, Stack: "sec", JSON: asJSON}); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("the plan (json %v)", asJSON), out.String()+errOut.String())
		if asJSON && !strings.Contains(out.String(), `"secret_text"`) {
			t.Errorf("the plan names no secret binding: %s", out.String())
		}
	}

	// zerocost dev, serving requests that succeed and fail.
	f, out, errOut = factory()
	data := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	runErr := make(chan error, 1)
	go func() {
		runErr <- devcmd.Run(&devcmd.Options{F: f, Stack: "sec", JSON: true, Context: ctx, DataDir: data, ToolsDir: repoRoot(t)})
	}()
	var ready devcmd.Output
	for i := 0; ; i++ {
		if line, _, ok := strings.Cut(out.String(), "\n"); ok {
			if err := json.Unmarshal([]byte(line), &ready); err != nil {
				t.Fatalf("dev --json: %q: %v", line, err)
			}
			break
		}
		select {
		case err := <-runErr:
			t.Fatalf("dev exited: %v\n%s", err, errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
		if i > 1200 {
			t.Fatalf("dev not ready after 60 s:\n%s", errOut.String())
		}
	}
	urls := map[string]string{}
	for _, p := range ready.Products {
		urls[p.Name] = p.URL
	}
	// The products take customer keys: the requests that carry the token
	// carry dev's key instead (keyClient).
	client := keyClient(NewClient(), ready.Products, authToken)
	var answers bytes.Buffer
	do := func(method, u, body string, header ...string) *Response {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
			header = append(header, "Content-Type", "application/json")
		}
		r, err := Do(client, method, u, b, header...)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&answers, "%s %s -> %d %v %s\n", method, u, r.Status, r.Header, r.Body)
		return r
	}
	bearer := []string{"Authorization", "Bearer " + authToken}
	for _, wrong := range [][]string{nil, {"Authorization", "Bearer " + authToken[:len(authToken)-1]}, {"Authorization", "Bearer " + authToken + "0"}} {
		for _, p := range []string{"agent", "pipe"} {
			if r := do("POST", urls[p]+"/jobs", `{"input":"x"}`, wrong...); r.Status != 401 {
				t.Errorf("%s with %v: %d", p, wrong, r.Status)
			}
		}
		if r := do("POST", urls["relay"]+"/ask", `{"input":"x"}`, wrong...); r.Status != 401 {
			t.Errorf("relay with %v: %d", wrong, r.Status)
		}
	}
	var agentJobs []string
	for i := 0; i < 10; i++ {
		r := do("POST", urls["agent"]+"/jobs", fmt.Sprintf(`{"input":"agent %d"}`, i), bearer...)
		if id, _ := r.JSON()["job_id"].(string); r.Status == 202 && id != "" {
			agentJobs = append(agentJobs, id)
		} else {
			t.Errorf("agent POST: %d %s", r.Status, r.Body)
		}
		do("POST", urls["agent"]+"/jobs", `{"input":`, bearer...)
		do("POST", urls["relay"]+"/ask", fmt.Sprintf(`{"input":"question %d"}`, i%4), bearer...)
	}
	r := do("POST", urls["pipe"]+"/jobs", `{"inputs":["p1","p2","p3","p4","p5","p6","p7","p8","p9","p10"]}`, bearer...)
	var pipe struct {
		JobIDs []string `json:"job_ids"`
	}
	if err := json.Unmarshal(r.Body, &pipe); err != nil || len(pipe.JobIDs) != 10 {
		t.Fatalf("pipe POST: %d %s", r.Status, r.Body)
	}
	settle := func(base string, ids []string, final ...string) map[string]int {
		t.Helper()
		seen := map[string]int{}
		for _, id := range ids {
			for i := 0; ; i++ {
				v := do("GET", base+"/jobs/"+id, "", bearer...).JSON()
				s, _ := v["status"].(string)
				if strings.Contains(strings.Join(final, " "), s) && s != "" {
					seen[s]++
					break
				}
				if i > 300 {
					t.Fatalf("job %s: %v", id, v)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		return seen
	}
	t.Logf("agent jobs: %v; pipeline jobs: %v", settle(urls["agent"], agentJobs, "done", "failed"), settle(urls["pipe"], pipe.JobIDs, "done", "dead"))
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("dev: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not stop")
	}

	keysMu.Lock()
	if keys[apiKey] == 0 || len(keys) != 1 {
		t.Errorf("model calls by key: %d with the key, %d keys in all: the Workers did not use the API key", keys[apiKey], len(keys))
	}
	keysMu.Unlock()
	if !strings.Contains(errOut.String(), "agent hook: building a request for") {
		t.Errorf("the Workers' console output is not in dev's log:\n%s", errOut.String())
	}
	check("dev's stdout", out.String())
	check("dev's log (stderr: zerocost, Miniflare, the Workers' console)", errOut.String())
	check("the Workers' answers", answers.String())
	t.Logf("dev's files: %d checked (bundles, runner config, persisted R2, D1 and queues)", checkTree("dev's file", data))
	if _, err := devrun.ReadStateFile(devrun.StatePath(dir, "sec")); err == nil {
		t.Error("dev left its state file")
	}
}
