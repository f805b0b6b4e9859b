// Command standin runs the stand-in for Anthropic's Messages API
// (internal/devmodel) on its own, on 127.0.0.1: the same stand-in `zerocost dev`
// and the Go tests start in-process. The Worker tests in workers-src start it
// from vitest's global setup (workers-src/test/node/global-setup.ts).
//
//	go run ./internal/devmodel/cmd/standin [-port N] [-latency D] [-error-rate R] [-429-share S] [-rpm N]
//		[-batch-delay D] [-batch-cancel-delay D] [-batch-expiry D]
//		[-batch-error-rate R] [-batch-error-every N] [-batch-error-match RE] [-batch-error-type T]
//		[-batch-expire-rate R] [-batch-expire-every N] [-batch-expire-match RE]
//		[-log] [-exit-with-stdin]
//
// The -batch-* flags shape the Message Batches API (devmodel.BatchOptions; see
// docs/standin.md).
//
// When it listens it prints one JSON line on stdout, {"url":"http://127.0.0.1:N"},
// and nothing else there. It stops on SIGINT or SIGTERM, and with
// -exit-with-stdin also when its stdin closes (its parent went away).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/zerocost/zerocost/internal/devmodel"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		os.Exit(2)
	}
}

// run serves until a signal, stdin's end (with -exit-with-stdin) or stop closes.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, stop <-chan struct{}) error {
	fs := flag.NewFlagSet("standin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o devmodel.Options
	port := fs.Int("port", 0, "port on 127.0.0.1 (0 picks a free one)")
	fs.DurationVar(&o.Latency, "latency", 0, "delay every unscripted answer")
	fs.Float64Var(&o.ErrorRate, "error-rate", 0, "share (0..1) of unscripted calls that fail with 500 or 529")
	fs.Float64Var(&o.RateLimitShare, "429-share", 0, "share (0..1) of those failures that are 429 instead")
	fs.IntVar(&o.RPM, "rpm", 0, "calls per rolling minute (0: no limit)")
	var match devmodel.BatchMatch
	devmodel.BatchFlags(fs, &o.Batch, &match, "batch-", "message batches")
	logCalls := fs.Bool("log", false, "log every call on stderr")
	withStdin := fs.Bool("exit-with-stdin", false, "stop when stdin closes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := match.Compile(&o.Batch, "-batch-"); err != nil {
		return err
	}
	if *logCalls {
		o.Log = stderr
	}
	s, err := devmodel.Start(o, *port)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := json.NewEncoder(stdout).Encode(map[string]string{"url": s.URL}); err != nil {
		return err
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	eof := make(chan struct{})
	if *withStdin {
		go func() {
			_, _ = io.Copy(io.Discard, stdin)
			close(eof)
		}()
	}
	select {
	case <-sig:
	case <-eof:
	case <-stop:
	}
	return nil
}
