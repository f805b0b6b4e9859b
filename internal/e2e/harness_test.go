package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/zerocost/zerocost/internal/cftest"
	"github.com/zerocost/zerocost/internal/pulumitool"
)

// Test credentials: the provider accepts only [A-Za-z0-9_-] in a token.
const (
	cfToken   = "zerocostE2EfakeTokenABCDEFGHIJKLMNOPQRSTU"
	anthropic = "sk-ant-e2e-secret-never-in-clear-7f3a"
	// webhook is the demo stack's budget alert webhook: its path is a token.
	webhook    = "https://hooks.slack.com/services/T0E2E/B0E2E/webhookTokenNeverInClear9c2"
	passphrase = "e2e-passphrase"
	zoneID     = "fedcba9876543210fedcba9876543210"
)

// cmdTimeout bounds one pulumi or zerocost command.
const cmdTimeout = 6 * time.Minute

// world is one run: a copy of the project, a file backend, the real pulumi
// binaries, the fake Cloudflare API and a zerocost binary built from the repo.
type world struct {
	t         *testing.T
	repo      string // the repository
	project   string // the copy pulumi runs in
	pulumiBin string // the pulumi CLI
	zerocost  string // the CLI, built from the repo
	fake      *cftest.Server
	env       []string
	account   string
	stateDir  string // the file backend
	// databases are the D1 databases checkDeployed found, name -> uuid.
	databases map[string]string
	// kvs are the KV namespaces checkDeployed found, title -> id.
	kvs map[string]string
}

// checkStateHasNoSecrets reads every file of the backend and the project's
// stack files: neither the API key nor the Cloudflare token is in clear.
func (w *world) checkStateHasNoSecrets() {
	w.t.Helper()
	n := 0
	for _, dir := range []string{w.stateDir, w.project} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if dir == w.project && !strings.HasPrefix(d.Name(), "Pulumi.") {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			n++
			for _, secret := range []string{anthropic, cfToken, webhook} {
				if bytes.Contains(data, []byte(secret)) {
					w.t.Errorf("%s holds a secret in clear", path)
				}
			}
			return nil
		})
		if err != nil {
			w.t.Fatal(err)
		}
	}
	if n < 3 {
		w.t.Fatalf("read only %d files of the state and stack files", n)
	}
}

// requireTools finds the Pulumi binaries, or skips (fails under make e2e).
func requireTools(t *testing.T, repo string) pulumitool.Tools {
	t.Helper()
	tools, err := pulumitool.Find(repo)
	if err != nil {
		if os.Getenv("ZEROCOST_E2E") == "require" {
			t.Fatalf("make e2e needs the Pulumi tools: %v", err)
		}
		t.Skipf("skipping the end-to-end test of the real Pulumi engine and provider: %v", err)
	}
	if testing.Short() && os.Getenv("ZEROCOST_E2E") != "require" {
		t.Skip("skipping the end-to-end test in -short mode (it runs pulumi up, refresh and destroy: minutes)")
	}
	return tools
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "Pulumi.yaml")); err != nil {
		t.Fatalf("no Pulumi.yaml at %s", root)
	}
	return root
}

func newWorld(t *testing.T) *world {
	t.Helper()
	repo := repoRoot(t)
	tools := requireTools(t, repo)
	tmp := t.TempDir()
	w := &world{t: t, repo: repo, pulumiBin: tools["pulumi"], project: filepath.Join(tmp, "project")}
	copyProject(t, repo, w.project)

	w.zerocost = filepath.Join(tmp, "zerocost")
	build := exec.Command("go", "build", "-o", w.zerocost, "./cmd/zerocost")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/zerocost: %v\n%s", err, out)
	}

	w.account = "0123456789abcdef0123456789abcdef" // Pulumi.demo.yaml
	fake, err := cftest.Start("127.0.0.1:0", cftest.WithToken(cfToken), cftest.WithAccount(w.account), cftest.WithZone(zoneID, "example.com"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	w.fake = fake
	fake.SetSubdomain(w.account, "zerocost-demo")

	state := filepath.Join(tmp, "state")
	w.stateDir = state
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	w.env = append(os.Environ(),
		"PATH="+tools.Dirs()+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PULUMI_HOME="+filepath.Join(tmp, "pulumi-home"),
		"PULUMI_BACKEND_URL=file://"+state,
		"PULUMI_CONFIG_PASSPHRASE="+passphrase,
		"ZEROCOST_CLOUDFLARE_API_URL="+fake.BaseURL(),
		"CLOUDFLARE_API_TOKEN="+cfToken,
		"NO_COLOR=1",
	)
	w.env = append(w.env, pulumitool.Env...)
	return w
}

// copyProject copies what `pulumi up` and zerocost read: the tracked tree
// without node_modules, tools, state or build output.
func copyProject(t *testing.T, from, to string) {
	t.Helper()
	skip := map[string]bool{".git": true, ".tools": true, "node_modules": true, ".zerocost": true, "bin": true, "dist": true, ".wrangler": true}
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			if skip[d.Name()] && rel != "." {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), "Pulumi.") && d.Name() != "Pulumi.yaml" && d.Name() != "Pulumi.demo.yaml" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(filepath.Join(to, rel), data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// run runs a command in the project copy and returns its stdout; it fails the
// test, with the command's output, when the exit status is not want.
func (w *world) run(want int, name string, args ...string) string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = w.project
	cmd.Env = w.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			w.t.Fatalf("%s %s: %v", filepath.Base(name), strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	w.t.Logf("%s %s: exit %d in %s", filepath.Base(name), strings.Join(args, " "), code, time.Since(start).Round(100*time.Millisecond))
	if code != want {
		w.t.Fatalf("%s %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), code, want, tail(stdout.String(), 60), tail(stderr.String(), 60))
	}
	w.checkNoUnknownRequests()
	return stdout.String()
}

func (w *world) pulumi(args ...string) string {
	w.t.Helper()
	return w.run(0, w.pulumiBin, append(args, "--non-interactive")...)
}

// checkNoUnknownRequests fails on any request the fake did not know: a call
// of the provider that the fake does not implement as Cloudflare documents.
func (w *world) checkNoUnknownRequests() {
	w.t.Helper()
	if unk := w.fake.Unknown(); len(unk) > 0 {
		var lines []string
		for _, r := range unk {
			lines = append(lines, r.Method+" "+r.Path)
		}
		w.t.Fatalf("the fake Cloudflare API got %d requests it does not know:\n%s", len(unk), strings.Join(lines, "\n"))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// update is what `pulumi preview --json` prints (one JSON object) or what
// `pulumi up/destroy --json` print (engine events, one per line), reduced to
// the steps and the summary.
type update struct {
	Steps         []updateStep
	ChangeSummary map[string]int
}

type updateStep struct {
	Op  string `json:"op"`
	URN string `json:"urn"`
}

func parseUpdate(t *testing.T, out string) update {
	t.Helper()
	var whole struct {
		Steps         []updateStep   `json:"steps"`
		ChangeSummary map[string]int `json:"changeSummary"`
	}
	if err := json.Unmarshal([]byte(out), &whole); err == nil {
		return update{Steps: whole.Steps, ChangeSummary: whole.ChangeSummary}
	}
	var u update
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			ResOutputsEvent *struct {
				Metadata updateStep `json:"metadata"`
			} `json:"resOutputsEvent"`
			SummaryEvent *struct {
				ResourceChanges map[string]int `json:"resourceChanges"`
			} `json:"summaryEvent"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("pulumi --json output: %v in line %q", err, line)
		}
		switch {
		case e.ResOutputsEvent != nil:
			u.Steps = append(u.Steps, e.ResOutputsEvent.Metadata)
		case e.SummaryEvent != nil:
			u.ChangeSummary = e.SummaryEvent.ResourceChanges
		}
	}
	if u.ChangeSummary == nil {
		t.Fatalf("pulumi --json output has no summary:\n%s", tail(out, 20))
	}
	return u
}

// ops maps each operation to the sorted resource names (the URN's last part,
// with its type) it touched, leaving out "same".
func (u update) ops() map[string][]string {
	out := map[string][]string{}
	for _, s := range u.Steps {
		if s.Op == "same" {
			continue
		}
		out[s.Op] = append(out[s.Op], urnName(s.URN))
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// urnName is "<type>::<name>" of a URN, as the Pulumi SDK parses it.
func urnName(s string) string {
	u := resource.URN(s)
	if !u.IsValid() {
		return s
	}
	return string(u.Type()) + "::" + u.Name()
}

// editStack rewrites the project copy's stack file.
func (w *world) editStack(stackName string, edit func(string) string) {
	w.t.Helper()
	path := filepath.Join(w.project, "Pulumi."+stackName+".yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		w.t.Fatal(err)
	}
	out := edit(string(data))
	if out == string(data) {
		w.t.Fatalf("editing %s changed nothing", path)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// state returns a deep enough copy of the fake's account.
func (w *world) state() (acct cftest.Account, zone cftest.Zone) {
	w.fake.Update(func(st *cftest.State) {
		a := st.Accounts[w.account]
		acct = *a
		acct.Queues = nil
		for _, q := range a.Queues {
			c := *q
			c.Consumers = append([]cftest.Consumer(nil), q.Consumers...)
			acct.Queues = append(acct.Queues, &c)
		}
		acct.Scripts = nil
		for _, s := range a.Scripts {
			c := *s
			c.Bindings = append([]cftest.Binding(nil), s.Bindings...)
			c.Schedules = append([]cftest.Schedule(nil), s.Schedules...)
			acct.Scripts = append(acct.Scripts, &c)
		}
		acct.KVNamespaces = append([]cftest.KVNamespace(nil), a.KVNamespaces...)
		acct.Buckets = append([]cftest.Bucket(nil), a.Buckets...)
		acct.CustomDomains = append([]cftest.CustomDomain(nil), a.CustomDomains...)
		zone = *st.Zones[zoneID]
		zone.Routes = append([]cftest.Route(nil), zone.Routes...)
	})
	return acct, zone
}
