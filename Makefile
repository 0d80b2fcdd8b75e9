# drio gateway. `make run` serves the whole flow on localhost; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
GOTEST_FLAGS ?= -race -count=1 -timeout 30m

GW_URL     ?= http://localhost:8080
MOCK_FLAGS ?= -resource-addr 127.0.0.1:9000 -workos-addr 127.0.0.1:9001

.PHONY: build run test test-deps test-short bench fuzz mutate lint fmt clean

## build: ./caddy with the plugin (xcaddy, pinned Caddy) and bin/upstream-mock
build: caddy bin/upstream-mock

caddy: go.mod go.sum xcaddy.sh $(shell find caddymodule -name '*.go' -not -name '*_test.go')
	./xcaddy.sh

bin/upstream-mock: go.mod go.sum $(shell find upstream-mock -name '*.go' -not -name '*_test.go')
	$(GO) build -o $@ ./upstream-mock

## run: upstream-mock (WorkOS stand-in + resource API) and Caddy with the shipped Caddyfile
run: build
	@set -euo pipefail; \
	./bin/upstream-mock $(MOCK_FLAGS) & mock=$$!; \
	trap 'kill $$mock 2>/dev/null; wait $$mock 2>/dev/null' EXIT; \
	for i in $$(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/9001) 2>/dev/null && break; sleep 0.1; done; \
	echo; \
	echo "drio gateway on $(GW_URL) (WorkOS stand-in on http://127.0.0.1:9001, resource API on http://127.0.0.1:9000)"; \
	echo "Try:"; \
	echo "  curl -s $(GW_URL)/.well-known/oauth-authorization-server"; \
	echo "  curl -si $(GW_URL)/api/v1/me            # 401 with WWW-Authenticate"; \
	echo "  curl -s $(GW_URL)/api/v1/templates      # public"; \
	echo "Then follow the walkthrough in README.md to register, sign in and call the API. Ctrl-C stops both."; \
	echo; \
	WORKOS_API_KEY="$${WORKOS_API_KEY:-sk_test_dev}" ./caddy run --config Caddyfile --adapter caddyfile

## test: what the tests need (test-deps), formatting and vet, then unit, integration and
## end-to-end tests (race detector on), through gotestsum: one line per package, the output of
## any failure, and at the end every skipped test with the reason and the command that enables
## it. Events of the whole run are kept in bin/test.json.
GOTESTSUM ?= $(GO) run gotest.tools/gotestsum@v1.13.0
test: test-deps lint
	@mkdir -p bin
	$(GOTESTSUM) --format pkgname-and-test-fails --format-hide-empty-pkg --jsonfile bin/test.json -- $(GOTEST_FLAGS) ./...

## test-deps: install redis-server, chromium, node/npm, curl, openssl (apt-get, if root or
## passwordless sudo; else say how) and the JS clients in tests/js (npm ci)
test-deps:
	@bash scripts/test-deps.sh

test-short:
	$(GO) test -short -count=1 ./...

## bench: side-by-side load (upstream, plain reverse_proxy, gateway, oauth2-proxy), cache-miss
## load, flows/s, memory, Go benchmarks -> BENCHMARKS.md and its SVG charts in bench-charts/.
## oauth2-proxy (the peer) is built into bin/ from the Go module proxy, outside our go.mod;
## without it the report says why and skips its rows.
PEER_MODULE ?= github.com/oauth2-proxy/oauth2-proxy/v7@v7.15.6
bench:
	$(GO) build -o bin/bench-caddy ./cmd/caddy
	$(GO) build -o bin/upstream-mock ./upstream-mock
	@test -x bin/oauth2-proxy || GOBIN=$(CURDIR)/bin $(GO) install $(PEER_MODULE) || \
	  echo "make bench: could not build $(PEER_MODULE) (no Go module proxy?); the report will skip the peer"
	$(GO) run ./tests/bench -caddy bin/bench-caddy -mock bin/upstream-mock -out BENCHMARKS.md -command 'make bench' $(BENCH_FLAGS)

## fuzz: each fuzz target for FUZZTIME
FUZZTIME ?= 20s
fuzz:
	@set -e; for pkg in $$($(GO) list ./caddymodule/...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

## mutate: mutation testing (gremlins) of the security-critical packages against their own
## tests; lists the mutants no test killed. Slow (minutes per package); not part of make test.
GREMLINS ?= $(GO) run github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
MUTATE_PKGS ?= ./caddymodule/internal/oauth ./caddymodule/internal/grants ./caddymodule/internal/workos ./caddymodule/verifier
mutate:
	@mkdir -p bin
	@set -e; for pkg in $(MUTATE_PKGS); do \
	  echo "== $$pkg"; \
	  $(GREMLINS) unleash --workers 1 --timeout-coefficient 5 --output-statuses lt $$pkg | tee bin/mutate-$$(basename $$pkg).txt; \
	done

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

fmt:
	gofmt -w $$(git ls-files '*.go')
	./caddy fmt --overwrite Caddyfile

clean:
	rm -rf caddy bin data
