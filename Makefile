# The two commands a new user needs: `make demo` and `make test`.
GO ?= go

.PHONY: build demo test test-short vet fuzz bench soak

build:
	$(GO) build -o bin/sluice ./cmd/sluice

# Sets up and runs the demo: PostgreSQL with sample data + sluice.
demo:
	./scripts/demo.sh

# Runs the whole test suite (needs PostgreSQL's server binaries and psql;
# .ci/run installs them on a fresh machine).
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -p 2 -timeout 30m ./...

# Measures sluice against PostgreSQL directly and PgBouncer (docs/benchmarks.md).
bench:
	./scripts/bench.sh $(BENCHFLAGS)

# On demand: 10 minutes, 200 connections, reviews approved by a script;
# draws docs/soak.svg and fails unless memory and goroutines stay flat.
soak:
	$(GO) run ./soak $(SOAKFLAGS)

test-short:
	$(GO) test -count=1 ./...

# Runs every fuzz target for FUZZTIME each (default 30s).
FUZZTIME ?= 30s
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh
