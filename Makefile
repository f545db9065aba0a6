# gatehouse — make run starts a demo server; make test runs every test.
GO        ?= go
DATA      ?= ./data
PG_URL    ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
ARTIFACTS ?= $(CURDIR)/artifacts

# bash with pipefail, so that `make bench | tee` fails when a benchmark does.
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: run build test test-deps bench bench-forward-auth bench-approval fuzz vet clean

build:
	$(GO) build -o bin/gatehouse ./cmd/gatehouse

## run: start gatehouse on 127.0.0.1:8080 with SQLite in $(DATA), in demo mode.
run: build
	./bin/gatehouse serve --data $(DATA) --demo

## test-deps: install the real programs the tests drive (Debian packages).
test-deps:
	@scripts/test-deps.sh

## test: every test, against SQLite and PostgreSQL (when it answers; under CI it must).
test: test-deps vet
	GATEHOUSE_TEST_POSTGRES_URL="$${GATEHOUSE_TEST_POSTGRES_URL:-$$(scripts/pg-url.sh '$(PG_URL)')}" \
	GATEHOUSE_ARTIFACTS="$(ARTIFACTS)" \
	$(GO) test -count=1 -timeout 20m ./...

## vet: go vet and gofmt over the tree.
vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }

## bench: the benchmarks of docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=2s -timeout 30m ./internal/... | tee bench.out

## bench-forward-auth: whole-process forward-auth under wrk against a no-op server (docs/benchmarks.md).
bench-forward-auth:
	@scripts/bench-forward-auth.sh

## bench-approval: whole-process forward-auth with approval tokens under loadgen (docs/benchmarks.md).
bench-approval:
	@scripts/bench-approval.sh

## fuzz: run each fuzz target for a short while.
fuzz:
	@scripts/fuzz.sh 30s

clean:
	rm -rf bin bench.out artifacts
