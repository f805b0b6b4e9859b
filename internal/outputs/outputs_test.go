package outputs

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	// email-worker's are the outputs of a stack deployed while products had
	// KV namespaces: the key outputs no longer has is ignored.
	s, err := Parse([]byte(`{
  "ai-relay": {"pattern": "edge-cache", "script": "ai-relay-demo", "url": "https://ai-relay-demo.x.workers.dev",
               "r2_buckets": {"OUTPUTS": "ai-relay-demo-outputs"}},
  "email-worker": {"pattern": "async-pipeline", "script": "email-worker-demo", "url": "",
               "kv_namespace_ids": {"JOBS": "def"}, "r2_buckets": {"OUTPUTS": "b"}, "queue_ids": {"email-worker-demo-jobs": "q1"}},
  "someoneElse": "a string export"
}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || s["ai-relay"].R2Buckets["OUTPUTS"] != "ai-relay-demo-outputs" || s["email-worker"].QueueIDs["email-worker-demo-jobs"] != "q1" {
		t.Errorf("parsed %+v", s)
	}
	if got := s.Names(); got[0] != "ai-relay" || got[1] != "email-worker" {
		t.Errorf("names %v", got)
	}
	if _, err := Parse([]byte(`{"x": 1}`)); err == nil {
		t.Error("outputs without products accepted")
	}
	if _, err := Parse([]byte(`[`)); err == nil {
		t.Error("bad JSON accepted")
	}
}

// infra/ exports a Product through the Pulumi SDK, which names each field by
// its pulumi tag; Parse reads it by its JSON tag: the two agree.
func TestPulumiAndJSONKeysAgree(t *testing.T) {
	typ := reflect.TypeFor[Product]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		js, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		pu, _, _ := strings.Cut(f.Tag.Get("pulumi"), ",")
		if js == "" || js != pu {
			t.Errorf("%s: json key %q, pulumi key %q", f.Name, js, pu)
		}
	}
}

// fakePulumi puts a pulumi script on a temporary PATH entry.
func fakePulumi(t *testing.T, script string) Pulumi {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "pulumi")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return Pulumi{LookPath: func(name string) (string, error) {
		if name != "pulumi" {
			return "", exec.ErrNotFound
		}
		return path, nil
	}}
}

// The CLI runs in the project folder, without --show-secrets (the policy).
func TestPulumi(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cli := fakePulumi(t, `echo "$PWD $*" > args.txt
echo '{"ai-relay": {"pattern": "edge-cache", "script": "ai-relay-demo", "url": "https://a.example", "r2_buckets": {"OUTPUTS": "b1"}}}'
`)
	out, err := cli.Outputs(ctx, dir, "prod")
	if err != nil || out["ai-relay"].URL != "https://a.example" || out["ai-relay"].R2Buckets["OUTPUTS"] != "b1" {
		t.Fatalf("outputs %v %v", out, err)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args.txt"))
	if strings.TrimSpace(string(args)) != dir+" stack output --json --stack prod" {
		t.Errorf("ran %q", args)
	}
	failing := fakePulumi(t, `echo "error: no stack named 'prod' found" >&2; exit 255`)
	if _, err := failing.Outputs(ctx, dir, "prod"); err == nil || !strings.Contains(err.Error(), "no stack named 'prod' found") {
		t.Errorf("failing CLI: %v", err)
	}
	none := Pulumi{LookPath: func(string) (string, error) { return "", exec.ErrNotFound }}
	if _, err := none.Outputs(ctx, dir, "prod"); !errors.Is(err, ErrNoPulumi) {
		t.Errorf("no CLI: %v", err)
	}

	// Read: a file first; the CLI's failure says how to pass a file; no CLI is ErrNoPulumi.
	file := filepath.Join(dir, "o.json")
	os.WriteFile(file, []byte(`{"x": {"pattern": "edge-cache", "script": "x-s", "url": "https://x"}}`), 0o644)
	if got, err := Read(ctx, file, failing, dir, "prod"); err != nil || got["x"].URL != "https://x" {
		t.Errorf("Read file: %v %v", got, err)
	}
	if _, err := Read(ctx, filepath.Join(dir, "missing.json"), cli, dir, "prod"); err == nil || !strings.HasPrefix(err.Error(), "--outputs: ") {
		t.Errorf("Read missing file: %v", err)
	}
	if _, err := Read(ctx, "", failing, dir, "prod"); err == nil || !strings.Contains(err.Error(), "or pass the outputs with --outputs FILE") {
		t.Errorf("Read failing CLI: %v", err)
	}
	if got, err := Read(ctx, "", none, dir, "prod"); !errors.Is(err, ErrNoPulumi) || got != nil {
		t.Errorf("Read without CLI: %v %v", got, err)
	}
}

func TestParseMaybeEmpty(t *testing.T) {
	for _, doc := range []string{`{}`, `{"mine": "[secret]"}`} {
		if s, err := ParseMaybeEmpty([]byte(doc)); err != nil || s == nil || len(s) != 0 {
			t.Errorf("%s: %v %v", doc, s, err)
		}
	}
	if _, err := ParseMaybeEmpty([]byte(`nope`)); err == nil {
		t.Error("non-JSON accepted")
	}
}
