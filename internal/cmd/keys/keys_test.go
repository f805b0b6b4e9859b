package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

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
	"github.com/zerocost/zerocost/internal/golden"
)

const (
	account = "0123456789abcdef0123456789abcdef"
	cfToken = "cf-token-that-must-not-leak"
)

var keyRe = regexp.MustCompile(`zck_[0-9A-Za-z]{36}`)

// bench is a project, a fake Cloudflare API with the relay's KEYS
// namespace, a clock the test moves and a seeded key source.
type bench struct {
	t    *testing.T
	dir  string
	srv  *cftest.Server
	ns   string
	now  time.Time
	rnd  *rand.ChaCha8
	env  map[string]string
	seen strings.Builder // everything every command printed
}

func newBench(t *testing.T) *bench {
	b := &bench{t: t, dir: cmdtest.Project(t, "testdata", "Pulumi.yaml", "Pulumi.demo.yaml"),
		now: time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC), rnd: rand.NewChaCha8([32]byte{1, 2, 3})}
	b.srv = cftest.New(t, cftest.WithAccount(account), cftest.WithToken(cfToken))
	b.ns = b.srv.AddKVNamespace(account, "relay-demo-keys").ID
	b.env = map[string]string{keysutil.EnvAPIToken: cfToken, keysutil.EnvAPIURL: b.srv.BaseURL()}
	t.Cleanup(func() {
		if u := b.srv.Unknown(); len(u) > 0 {
			t.Errorf("calls the fake API has no route for: %v", u)
		}
		if strings.Contains(b.seen.String(), cfToken) {
			t.Error("the API token was printed")
		}
	})
	return b
}

// run runs `zerocost keys <args>` with the bench's clock and key source.
func (b *bench) run(args ...string) (stdout, stderr string, err error) {
	b.t.Helper()
	io, out, errOut := cmdutil.Test()
	f := &cmdutil.Factory{IO: io, ProjectDir: b.dir, Getenv: func(k string) string { return b.env[k] }}
	hook := func(t *keysutil.Target) {
		t.Now = func() time.Time { return b.now }
		t.Rand = b.rnd
	}
	var cmd *cobra.Command
	switch args[0] {
	case "create":
		cmd = create.NewCmd(f, func(o *create.Options) error { hook(&o.Target); return create.Run(o) })
	case "list":
		cmd = list.NewCmd(f, func(o *list.Options) error { hook(&o.Target); return list.Run(o) })
	case "revoke":
		cmd = revoke.NewCmd(f, func(o *revoke.Options) error { hook(&o.Target); return revoke.Run(o) })
	case "rotate":
		cmd = rotate.NewCmd(f, func(o *rotate.Options) error { hook(&o.Target); return rotate.Run(o) })
	default:
		b.t.Fatalf("no subcommand %s", args[0])
	}
	rest := args[1:]
	if !slices.Contains(rest, "--local") && !slices.Contains(rest, "--stack") {
		rest = append([]string{"--stack", "demo"}, rest...) // a deployed stack is named
	}
	cmd.SetArgs(rest)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	err = cmd.Execute()
	fmt.Fprintf(&b.seen, "%s\n%s\n%v\n", out, errOut, err)
	return out.String(), errOut.String(), err
}

// must runs a command that has to succeed and returns stdout and stderr
// together, as a terminal shows them.
func (b *bench) must(args ...string) string {
	b.t.Helper()
	out, errOut, err := b.run(args...)
	if err != nil {
		b.t.Fatalf("keys %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return "$ zerocost keys " + strings.Join(args, " ") + "\n" + out + "--- stderr\n" + errOut
}

func (b *bench) records() map[string]apikeys.Record {
	out := map[string]apikeys.Record{}
	for name, v := range b.srv.KVValues(account, b.ns) {
		var r apikeys.Record
		if err := json.Unmarshal(v.Value, &r); err != nil {
			b.t.Fatalf("%s: %v", name, err)
		}
		out[name] = r
	}
	return out
}

func (b *bench) flags() []string { return []string{"--product", "relay", "--namespace-id", b.ns} }

func TestKeysFlow(t *testing.T) {
	b := newBench(t)
	var transcript strings.Builder
	do := func(args ...string) string {
		s := b.must(append(args, b.flags()...)...)
		redacted := keyRe.ReplaceAllStringFunc(s, func(k string) string { return k[:12] + "<28 more characters>" })
		transcript.WriteString(strings.ReplaceAll(redacted, b.ns, "NS") + "\n")
		return s
	}

	created := do("create", "--customer", "acme", "--monthly-budget-usd", "25")
	acme1 := keyRe.FindString(created)
	b.now = b.now.Add(time.Minute)
	js, _, err := b.run(append([]string{"create", "--customer", "globex", "--tier", "pro", "--expires", "30d", "--json"}, b.flags()...)...)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(js), &obj); err != nil {
		t.Fatalf("create --json printed %q: %v", js, err)
	}
	want := []string{"created_at", "customer", "expires_at", "key", "monthly_budget_usd", "prefix", "product", "stack", "tier"}
	if got := keysOf(obj); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("create --json fields %v, want %v", got, want)
	}
	globex := obj["key"].(string)
	if obj["prefix"] != globex[:12] || obj["expires_at"] != "2027-01-06T05:01:00Z" || obj["tier"] != "pro" || obj["monthly_budget_usd"] != nil || obj["stack"] != "demo" {
		t.Fatalf("create --json = %v", obj)
	}
	transcript.WriteString(strings.ReplaceAll(js, globex, "<globex key>") + "\n")

	// Only hashes are stored.
	recs := b.records()
	if len(recs) != 2 || recs["k:"+apikeys.Hash(acme1)].Customer != "acme" || recs["k:"+apikeys.Hash(globex)].Tier != "pro" {
		t.Fatalf("stored %v", recs)
	}
	b.now = b.now.Add(time.Hour)
	do("list")
	lj := do("list", "--json")
	if keyRe.MatchString(lj) || strings.Contains(lj, `"key"`) {
		t.Fatal("list --json shows a key")
	}

	rotated := do("rotate", "--customer", "acme", "--grace", "24h")
	acme2 := keyRe.FindString(rotated)
	recs = b.records()
	old, fresh := recs["k:"+apikeys.Hash(acme1)], recs["k:"+apikeys.Hash(acme2)]
	if fresh.Tier != "standard" || fresh.MonthlyBudgetUSD == nil || *fresh.MonthlyBudgetUSD != 25 {
		t.Fatalf("rotate did not keep acme's tier and budget: %+v", fresh)
	}
	if old.ExpiresAt == nil || !old.ExpiresAt.Equal(b.now.Add(24*time.Hour)) {
		t.Fatalf("the old key expires %v, want now+24h", old.ExpiresAt)
	}

	do("revoke", "--key", globex[:12])
	do("revoke", "--customer", "acme")
	b.now = b.now.Add(25 * time.Hour)
	do("list")
	for hash, r := range b.records() {
		if r.RevokedAt == nil {
			t.Errorf("%s (%s) not revoked", r.Prefix, hash)
		}
	}
	golden.Check(t, "flow.txt", []byte(transcript.String()))

	// Each key was printed once, by the command that made it.
	for _, k := range []string{acme1, globex, acme2} {
		if n := strings.Count(b.seen.String(), k); n != 1 {
			t.Errorf("key %s… printed %d times, want once", k[:12], n)
		}
	}
}

func keysOf(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func TestMistypedKeyIsRefusedBeforeAnyKVCall(t *testing.T) {
	b := newBench(t)
	out := b.must(append([]string{"create", "--customer", "acme"}, b.flags()...)...)
	key := keyRe.FindString(out)
	typo := key[:30] + string(key[30]^1) + key[31:]
	before := len(b.srv.Requests())
	_, errOut, err := b.run(append([]string{"revoke", "--key", typo}, b.flags()...)...)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !errors.Is(err, apikeys.ErrMalformed) {
		t.Fatalf("a mistyped key: exit %d, %v", cmdutil.ExitCode(err), err)
	}
	if n := len(b.srv.Requests()) - before; n != 0 {
		t.Fatalf("a mistyped key cost %d API calls, want 0", n)
	}
	if strings.Contains(err.Error()+errOut, typo) || strings.Contains(err.Error()+errOut, key) {
		t.Fatal("the error repeats the key")
	}
	// The whole key, typed right, revokes it.
	if _, _, err := b.run(append([]string{"revoke", "--key", key}, b.flags()...)...); err != nil {
		t.Fatal(err)
	}
	if r := b.records()["k:"+apikeys.Hash(key)]; r.RevokedAt == nil {
		t.Fatal("revoke --key <whole key> did not revoke it")
	}
}
