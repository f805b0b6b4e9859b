package outputs

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakePulumi puts a pulumi script on a temporary PATH entry.
func fakePulumi(t *testing.T, script string) PulumiCLI {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "pulumi")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return PulumiCLI{LookPath: func(name string) (string, error) {
		if name != "pulumi" {
			return "", exec.ErrNotFound
		}
		return path, nil
	}}
}

// The CLI runs in the project folder, without --show-secrets (the policy).
func TestPulumiCLI(t *testing.T) {
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
	none := PulumiCLI{LookPath: func(string) (string, error) { return "", exec.ErrNotFound }}
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
