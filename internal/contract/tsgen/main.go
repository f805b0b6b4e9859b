// Command tsgen writes workers-src/src/contract.gen.ts from internal/contract
// (run by `go generate ./internal/contract`).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/zerocost/zerocost/internal/contract"
)

func main() {
	out := flag.String("out", "", "the file to write")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: tsgen -out FILE")
		os.Exit(2)
	}
	if err := os.WriteFile(*out, contract.TypeScript(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
