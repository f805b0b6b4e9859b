// Command tsgen writes workers-src/src/contract.gen.ts from internal/contract,
// and the ops table of docs/cost.md (run by `go generate ./internal/contract`).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/zerocost/zerocost/internal/contract"
)

func main() {
	out := flag.String("out", "", "the TypeScript file to write")
	doc := flag.String("doc", "", "a markdown file whose ops table to rewrite (docs/cost.md)")
	flag.Parse()
	if *out == "" && *doc == "" {
		fmt.Fprintln(os.Stderr, "usage: tsgen -out FILE | -doc FILE")
		os.Exit(2)
	}
	if *out != "" {
		if err := os.WriteFile(*out, contract.TypeScript(), 0o644); err != nil {
			fail(err)
		}
	}
	if *doc != "" {
		old, err := os.ReadFile(*doc)
		if err != nil {
			fail(err)
		}
		updated, err := contract.SpliceOpsDoc(string(old))
		if err != nil {
			fail(err)
		}
		if err := os.WriteFile(*doc, []byte(updated), 0o644); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
