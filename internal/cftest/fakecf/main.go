// Command fakecf runs cftest's fake Cloudflare API on its own, for local
// testing: point the Cloudflare provider (cloudflare:baseUrl or
// CLOUDFLARE_BASE_URL), cloudflare-go or wrangler at the base URL it prints.
// It is not Cloudflare: nothing leaves the machine and all state is lost
// when it stops.
//
//	go run ./internal/cftest/fakecf --account 0123456789abcdef0123456789abcdef --zone fedcba9876543210fedcba9876543210=example.com
//
// Flags:
//
//	--addr       listen address (default 127.0.0.1:8787)
//	--account    an account id the API knows; repeat it or give a comma list
//	--zone       a zone the API knows, ID or ID=NAME (NAME: its domain, for custom domains); repeatable
//	--token      the only API token accepted (default: any bearer token)
//	--subdomain  the accounts' workers.dev subdomain
//	--strict     exit 1 at shutdown when a request had no route
//
// D1 databases start empty: seed a table through D1's query endpoint with
// CREATE TABLE and INSERT INTO <table> (<cols>) VALUES (?, ...), which the
// fake takes besides its SELECTs (see cftest's d1query.go).
//
// It logs every request (method, path, status) to stderr, and loudly the
// ones it has no route for (answered 400 with code 7000). GET
// /__fake/state shows the state as JSON (secret texts left out). SIGINT or
// SIGTERM stops it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/zerocost/zerocost/internal/cftest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil))
}

// list is a repeatable flag whose values may also be comma lists.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }

func (l *list) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*l = append(*l, x)
		}
	}
	return nil
}

// run serves until ctx ends and returns the exit status. started, when not
// nil, receives the server once it listens.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, started chan<- *cftest.Server) int {
	fs := flag.NewFlagSet("fakecf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8787", "listen address")
	token := fs.String("token", "", "the only API token accepted (default: any bearer token)")
	subdomain := fs.String("subdomain", "", "the accounts' workers.dev subdomain")
	strict := fs.Bool("strict", false, "exit 1 at shutdown when a request had no route")
	var accounts, zones list
	fs.Var(&accounts, "account", "an account id the API knows (repeatable, or a comma list)")
	fs.Var(&zones, "zone", "a zone the API knows: ID or ID=NAME (repeatable, or a comma list)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fakecf: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if len(accounts) == 0 {
		fmt.Fprintln(stderr, "fakecf: give at least one --account (requests for other accounts are refused with 403, as Cloudflare does)")
		return 2
	}
	logger := log.New(stderr, "fakecf: ", log.Ltime|log.Lmicroseconds)
	opts := []cftest.Option{cftest.WithAccount(accounts...), cftest.WithLogf(logger.Printf)}
	for _, z := range zones {
		id, name, _ := strings.Cut(z, "=")
		opts = append(opts, cftest.WithZone(id, name))
	}
	if *token != "" {
		opts = append(opts, cftest.WithToken(*token))
	}
	s, err := cftest.Start(*addr, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "fakecf: %v\n", err)
		return 1
	}
	defer s.Close()
	if *subdomain != "" {
		for _, a := range accounts {
			s.SetSubdomain(a, *subdomain)
		}
	}
	fmt.Fprintf(stdout, "FAKE Cloudflare API for local testing (not Cloudflare; state in memory) at %s (state: %s/__fake/state)\n", s.BaseURL(), s.URL)
	if started != nil {
		started <- s
	}
	<-ctx.Done()
	s.Close()
	unknown := s.Unknown()
	logger.Printf("stopped after %d requests, %d with no route", len(s.Requests()), len(unknown))
	for _, r := range unknown {
		logger.Printf("no route: %s %s", r.Method, r.Path)
	}
	if *strict && len(unknown) > 0 {
		return 1
	}
	return 0
}
