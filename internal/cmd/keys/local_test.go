package keys

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/apikeys"
	"github.com/zerocost/zerocost/internal/cftest"
	"github.com/zerocost/zerocost/internal/cmd/keys/create"
	"github.com/zerocost/zerocost/internal/cmd/keys/keysutil"
	"github.com/zerocost/zerocost/internal/cmd/keys/list"
	"github.com/zerocost/zerocost/internal/cmd/keys/revoke"
	"github.com/zerocost/zerocost/internal/cmd/keys/rotate"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/devrun"
)

// writeDevState writes the state file of a zerocost dev (this process, so
// it counts as running) whose KV API is the bench's fake.
func (b *bench) writeDevState(kvURL string) {
	b.t.Helper()
	st := map[string]any{"stack": "demo", "pid": os.Getpid(), "started_at": "2026-12-07T05:00:00Z",
		"kv_api_url": kvURL,
		"products":   []map[string]any{{"name": "relay", "pattern": "edge-cache", "url": "http://127.0.0.1:1", "keys_namespace_id": b.ns}}}
	data, _ := json.Marshal(st)
	path := devrun.StatePath(b.dir, "demo")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.t.Fatal(err)
	}
}

func TestLocalUsesTheDevKVAPI(t *testing.T) {
	b := newBench(t)
	// zerocost dev's KV API takes any token: a fake that does too.
	b.srv = cftest.New(t, cftest.WithAccount(account))
	b.ns = b.srv.AddKVNamespace(account, "relay-demo-keys").ID
	b.env = map[string]string{} // dev needs no CLOUDFLARE_API_TOKEN
	local := []string{"--local", "--product", "relay"}

	_, _, err := b.run(append([]string{"list"}, local...)...)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "no zerocost dev running for stack demo") {
		t.Fatalf("without dev: %v", err)
	}
	b.writeDevState(b.srv.URL) // a bare origin gets /client/v4/
	out, _, err := b.run(append([]string{"create", "--customer", "acme"}, local...)...)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out)
	if r, found := b.records()["k:"+apikeys.Hash(key)]; !found || r.Customer != "acme" {
		t.Fatalf("dev's namespace holds %v", b.records())
	}
	out, _, err = b.run(append([]string{"list"}, local...)...)
	if err != nil || !strings.Contains(out, key[:12]) || strings.Contains(out, key) {
		t.Fatalf("list --local: %v\n%s", err, out)
	}
	_, errOut, err := b.run(append([]string{"revoke", "--customer", "acme"}, local...)...)
	if err != nil || !strings.Contains(errOut, "within 60 seconds") {
		t.Fatalf("revoke --local: %v\n%s", err, errOut)
	}
}

func TestDeployedNeedsTokenAndNamespace(t *testing.T) {
	b := newBench(t)
	b.env = map[string]string{keysutil.EnvAPIURL: b.srv.BaseURL()}
	_, _, err := b.run(append([]string{"list"}, b.flags()...)...)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "CLOUDFLARE_API_TOKEN is not set") {
		t.Fatalf("without a token: %v", err)
	}
	b.env[keysutil.EnvAPIToken] = "wrong"
	_, _, err = b.run(append([]string{"list"}, b.flags()...)...)
	if err == nil || !strings.Contains(err.Error(), "Workers KV Storage: Edit") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("a refused token: %v", err)
	}
	b.env[keysutil.EnvAPIToken] = cfToken
	outputs := filepath.Join(b.dir, "outputs.json")
	if err := os.WriteFile(outputs, []byte(`{"relay": {"pattern": "edge-cache", "script": "relay-demo", "url": "https://relay.zc.workers.dev", "r2_buckets": {"OUTPUTS": "relay-demo-outputs"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.run("list", "--product", "relay", "--outputs", outputs)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "--namespace-id") {
		t.Fatalf("outputs without a KEYS namespace: %v", err)
	}
	withNS := fmt.Sprintf(`{"relay": {"pattern": "edge-cache", "script": "relay-demo", "url": "https://relay.zc.workers.dev", "r2_buckets": {"OUTPUTS": "relay-demo-outputs"}, "kv_namespace_ids": {"KEYS": %q}}}`, b.ns)
	if err := os.WriteFile(outputs, []byte(withNS), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.run("create", "--product", "relay", "--outputs", outputs, "--customer", "acme"); err != nil {
		t.Fatalf("the namespace from the outputs: %v", err)
	}
	if len(b.records()) != 1 {
		t.Fatalf("records %v", b.records())
	}
	_, _, err = b.run("list", "--product", "nope", "--namespace-id", b.ns)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "it has relay") {
		t.Fatalf("an unknown product: %v", err)
	}
}

func TestFlagChecks(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"create without customer", parse(create.NewCmd, "--product", "relay"), "--customer is required"},
		{"create without product", parse(create.NewCmd, "--customer", "acme"), "--product is required"},
		{"create bad customer", parse(create.NewCmd, "--product", "relay", "--customer", "Acme Inc"), "customer \"Acme Inc\""},
		{"create bad expiry", parse(create.NewCmd, "--product", "relay", "--customer", "acme", "--expires", "next week"), "--expires \"next week\""},
		{"create negative budget", parse(create.NewCmd, "--product", "relay", "--customer", "acme", "--monthly-budget-usd", "-5"), "monthly budget -5"},
		{"create bad tier", parse(create.NewCmd, "--product", "relay", "--customer", "acme", "--tier", "Gold!"), "tier \"Gold!\""},
		{"local with namespace", parse(list.NewCmd, "--product", "relay", "--local", "--namespace-id", "x"), "--local takes the namespace"},
		{"revoke neither", parse(revoke.NewCmd, "--product", "relay"), "either --customer NAME"},
		{"revoke both", parse(revoke.NewCmd, "--product", "relay", "--customer", "a", "--key", "zck_12345678"), "either --customer NAME"},
		{"revoke short key", parse(revoke.NewCmd, "--product", "relay", "--key", "zck_123"), "malformed key"},
		{"rotate negative grace", parse(rotate.NewCmd, "--product", "relay", "--customer", "acme", "--grace", "-1h"), "--grace -1h0m0s"},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, c.err, c.want)
			continue
		}
		if cmdutil.ExitCode(c.err) != cmdutil.ExitUsage {
			t.Errorf("%s: exit %d, want %d", c.name, cmdutil.ExitCode(c.err), cmdutil.ExitUsage)
		}
	}
	o, err := cmdtest.Parse(rotate.NewCmd, "--stack", "demo", "--product", "relay", "--customer", "acme")
	if err != nil || o.Grace != rotate.DefaultGrace || o.Stack != "demo" {
		t.Fatalf("rotate defaults: %+v %v", o, err)
	}
	c, err := cmdtest.Parse(create.NewCmd, "--stack", "demo", "--product", "relay", "--customer", "acme")
	if err != nil || c.BudgetSet || c.Tier != apikeys.DefaultTier {
		t.Fatalf("create defaults: %+v %v", c, err)
	}
	c, _ = cmdtest.Parse(create.NewCmd, "--stack", "demo", "--product", "relay", "--customer", "acme", "--monthly-budget-usd", "0")
	if c == nil || !c.BudgetSet || c.Budget != 0 {
		t.Fatalf("--monthly-budget-usd 0 is a budget of $0: %+v", c)
	}
}

func parse[O any](newCmd func(*cmdutil.Factory, func(*O) error) *cobra.Command, args ...string) error {
	_, err := cmdtest.Parse(newCmd, append([]string{"--stack", "demo"}, args...)...)
	return err
}

func TestPublicProductsAndUnknownTiers(t *testing.T) {
	b := newBench(t)
	base, err := os.ReadFile(filepath.Join("testdata", "Pulumi.demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	yml := string(base) + `    - name: open
      pattern: edge-cache
      systemPrompt: Answer briefly.
      access: public
    - name: tiered
      pattern: edge-cache
      systemPrompt: Answer briefly.
      tiers:
        free: 30
        pro: 600
`
	if err := os.WriteFile(filepath.Join(b.dir, "Pulumi.demo.yaml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	before := len(b.srv.Requests())
	_, _, err = b.run("list", "--product", "open", "--namespace-id", b.ns)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "open is public") {
		t.Fatalf("a public product: %v", err)
	}
	_, _, err = b.run("create", "--product", "tiered", "--namespace-id", b.ns, "--customer", "acme", "--tier", "gold")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "it has free, pro") {
		t.Fatalf("a tier relay does not have: %v", err)
	}
	_, _, err = b.run("create", "--product", "tiered", "--namespace-id", b.ns, "--customer", "acme")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "it has free, pro") {
		t.Fatalf("the default tier on a product without it: %v", err)
	}
	if n := len(b.srv.Requests()) - before; n != 0 {
		t.Fatalf("refused commands made %d API calls", n)
	}
	if _, _, err := b.run("create", "--product", "tiered", "--namespace-id", b.ns, "--customer", "acme", "--tier", "pro"); err != nil {
		t.Fatal(err)
	}
}
