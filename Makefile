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

test-short:
	$(GO) test -count=1 ./...

# Runs each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/listener/pgwire -run '^$$' -fuzz FuzzStartup -fuzztime $(FUZZTIME)
	$(GO) test ./internal/authn -run '^$$' -fuzz FuzzAuthenticate -fuzztime $(FUZZTIME)
	$(GO) test ./internal/authn -run '^$$' -fuzz FuzzClaims -fuzztime $(FUZZTIME)
	$(GO) test ./internal/sqlclass -run '^$$' -fuzz FuzzClassify -fuzztime $(FUZZTIME)
	$(GO) test ./internal/journal -run '^$$' -fuzz FuzzReaders -fuzztime $(FUZZTIME)
	$(GO) test ./internal/journal -run '^$$' -fuzz FuzzEnvelope -fuzztime $(FUZZTIME)
	$(GO) test ./internal/review/notify -run '^$$' -fuzz FuzzParseCommand -fuzztime $(FUZZTIME)
	$(GO) test ./internal/review/notify -run '^$$' -fuzz FuzzSlackPayload -fuzztime $(FUZZTIME)
	$(GO) test ./internal/mask -run '^$$' -fuzz FuzzText -fuzztime $(FUZZTIME)
	$(GO) test ./internal/mask -run '^$$' -fuzz FuzzJSON -fuzztime $(FUZZTIME)
	$(GO) test ./internal/mask -run '^$$' -fuzz FuzzValue -fuzztime $(FUZZTIME)
	$(GO) test ./internal/httpclass -run '^$$' -fuzz FuzzClassify -fuzztime $(FUZZTIME)
	$(GO) test ./internal/upstream/http -run '^$$' -fuzz FuzzURL -fuzztime $(FUZZTIME)
	$(GO) test ./internal/ocsf -run '^$$' -fuzz FuzzEvent -fuzztime $(FUZZTIME)
	$(GO) test ./internal/export/siem -run '^$$' -fuzz FuzzRecord -fuzztime $(FUZZTIME)
	$(GO) test ./internal/export/siem -run '^$$' -fuzz FuzzVerifyWebhook -fuzztime $(FUZZTIME)
