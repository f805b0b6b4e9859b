// Command gen writes the files of package workersgen: the Worker tests'
// wrangler configs and the Env types (see the package). It needs Node >= 22.12
// and workers-src/node_modules (`make deps`) for `wrangler types`.
//
//	go generate ./internal/workersgen    # or, at the root: go run ./internal/workersgen/gen
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/zerocost/zerocost/internal/nodetool"
	"github.com/zerocost/zerocost/internal/workersgen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "workersgen/gen:", err)
		os.Exit(1)
	}
}

func run() error {
	rootFlag := flag.String("root", ".", "the repository's root folder")
	flag.Parse()
	root, err := filepath.Abs(*rootFlag)
	if err != nil {
		return err
	}
	tools, err := nodetool.Find(root)
	if err != nil {
		return fmt.Errorf("wrangler types needs Node and workers-src/node_modules: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	files, err := workersgen.Files(ctx, root, tools)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(root, filepath.FromSlash(p))
		if old, err := os.ReadFile(full); err == nil && bytes.Equal(old, files[p]) {
			continue
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", p)
	}
	return nil
}
