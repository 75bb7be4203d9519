# Kappa's everyday commands. `make` alone lists them.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -o pipefail -ec
.DEFAULT_GOAL := help

GO ?= go
BIN := $(CURDIR)/.bin
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

# The address `make kafka-up` recorded, unless KAFKA_BROKERS is already set.
KAFKA_BROKERS ?= $(shell sed -n 's/^KAFKA_BROKERS=//p' .cache/kafka/run/address 2>/dev/null)

# go test -json piped through tools/testreport: go test's ok/FAIL lines, failures in full,
# every skip with its reason, and a closing "N passed, N failed, N skipped" line.
GOTEST = $(GO) test -json $(TESTFLAGS)
REPORT = $(GO) run ./tools/testreport
TESTFLAGS ?= -race

.PHONY: help
help: ## list the targets
	@echo "Kappa: make <target>"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Quickstart: make run, then make test. See README.md."

.PHONY: build
build: ## build bin/kappa
	$(GO) build -o bin/kappa ./cmd/kappa

.PHONY: run
run: build ## run the example pipeline on an embedded in-process Kafka broker (Ctrl-C stops it)
	@exec bin/kappa demo -f examples/fraud/fraud.yaml

.PHONY: test
test: ## run the hermetic test suite (race detector on; no Java, Docker or broker needed)
	env -u KAFKA_BROKERS -u KAPPA_TESTCONTAINERS -u KAPPA_REQUIRE_REAL_KAFKA \
		$(GOTEST) ./... | $(REPORT)

.PHONY: test-kafka
test-kafka: ## run the suites against the real broker of `make kafka-up` (or KAFKA_BROKERS)
	@if [ -z "$(KAFKA_BROKERS)" ]; then \
		echo "test-kafka: no broker: run 'make kafka-up' first or set KAFKA_BROKERS=host:port" >&2; exit 1; fi
	@echo "test-kafka: KAFKA_BROKERS=$(KAFKA_BROKERS)"
	KAFKA_BROKERS=$(KAFKA_BROKERS) KAPPA_REQUIRE_REAL_KAFKA=1 \
		$(GOTEST) -count=1 $$($(GO) list ./... | grep -v /internal/eostest) | $(REPORT)

# The size of `make test-eos`; .ci/run passes smaller ones.
EOS_RECORDS ?= 200000
EOS_KILLS ?= 12
EOS_DURATION ?= 120s

.PHONY: test-eos
test-eos: ## T1 (kill -9), T2 (rebalance), T8 (poison pills), T9 (windows under kill -9) and dedup under kill -9 with 3 kappa processes against KAFKA_BROKERS; prints the verdict lines
	@if [ -z "$(KAFKA_BROKERS)" ]; then \
		echo "test-eos: no broker: run 'make kafka-up' first or set KAFKA_BROKERS=host:port" >&2; exit 1; fi
	@echo "test-eos: KAFKA_BROKERS=$(KAFKA_BROKERS) records=$(EOS_RECORDS) kills=$(EOS_KILLS) duration=$(EOS_DURATION)"
	KAFKA_BROKERS=$(KAFKA_BROKERS) KAPPA_REQUIRE_REAL_KAFKA=1 \
		KAPPA_EOS_RECORDS=$(EOS_RECORDS) KAPPA_EOS_KILLS=$(EOS_KILLS) KAPPA_EOS_DURATION=$(EOS_DURATION) \
		$(GO) test -json -count=1 -timeout 40m -run '^TestEOS' ./internal/eostest | $(REPORT)

# The size of `make test-replay`; .ci/run passes smaller ones.
REPLAY_RECORDS ?= 100000
REPLAY_KILLS ?= 6
REPLAY_DURATION ?= 60s

.PHONY: test-replay
test-replay: ## T10: a live run under kill -9, then kappa replay of the same range and kappa replay --verify, against KAFKA_BROKERS; prints the verify lines
	@if [ -z "$(KAFKA_BROKERS)" ]; then \
		echo "test-replay: no broker: run 'make kafka-up' first or set KAFKA_BROKERS=host:port" >&2; exit 1; fi
	@echo "test-replay: KAFKA_BROKERS=$(KAFKA_BROKERS) records=$(REPLAY_RECORDS) kills=$(REPLAY_KILLS) duration=$(REPLAY_DURATION)"
	KAFKA_BROKERS=$(KAFKA_BROKERS) KAPPA_REQUIRE_REAL_KAFKA=1 \
		KAPPA_EOS_RECORDS=$(REPLAY_RECORDS) KAPPA_EOS_KILLS=$(REPLAY_KILLS) KAPPA_EOS_DURATION=$(REPLAY_DURATION) \
		$(GO) test -json -count=1 -timeout 30m -run '^TestReplayDeterminism$$' ./internal/eostest | $(REPORT)

.PHONY: test-state
test-state: ## 10 million records through a partition's window state on disk; prints the state figures (flat once windows close)
	KAPPA_STATE_RECORDS=10000000 $(GO) test -count=1 -v -timeout 20m -run '^TestWindowStateBounded$$' ./processor | grep -E '^(=== RUN|--- |ok|FAIL|PASS)|state:'

.PHONY: check-ops
check-ops: build ## alert rules and their unit tests (promtool), every dashboard query against Prometheus scraping kappa, docker-compose.yml, Kubernetes manifests
	@# Each check's output is shown as it ends; its last line is its summary. (Not tee
	@# /dev/stderr: reopening stderr truncates a log file that stderr is redirected to.)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	step() { name=$$1; shift; if "$$@" > "$$tmp/$$name" 2>&1; then cat "$$tmp/$$name"; \
		else cat "$$tmp/$$name"; echo "check-ops: $$name failed" >&2; exit 1; fi; }; \
	step rules $(GO) run ./tools/checkops rules; \
	step dashboard $(GO) run ./tools/checkops dashboard -kappa bin/kappa; \
	step compose $(GO) run ./tools/composecheck; \
	step manifests $(GO) run ./tools/k8scheck; \
	echo "ops: $$(tail -n1 $$tmp/rules) $$(tail -n1 $$tmp/dashboard) $$(tail -n1 $$tmp/compose) $$(tail -n1 $$tmp/manifests)"

.PHONY: bench
bench: ## pipeline records/s, exactly-once and at-least-once, vs raw consume (KAFKA_BROKERS or in-process); then micro-benchmarks
	KAFKA_BROKERS=$(KAFKA_BROKERS) $(GO) test -run '^$$' -bench '^BenchmarkPipeline$$' -benchtime 1x -timeout 30m ./cmd/kappa
	$(GO) test -run '^$$' -bench . -benchmem $$($(GO) list ./... | grep -v /cmd/kappa)

.PHONY: kafka-up
kafka-up: ## start a real Apache Kafka 4.x broker from Maven Central jars (no Docker)
	tools/kafka/kafka.sh up

.PHONY: kafka-down
kafka-down: ## stop the broker of kafka-up and delete its data
	tools/kafka/kafka.sh down

$(GOLANGCI_LINT):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/golangci-lint $@

.PHONY: lint
lint: $(GOLANGCI_LINT) ## run golangci-lint (pinned; installed into .bin on first use)
	$(GOLANGCI_LINT) run ./...

.PHONY: fmt
fmt: $(GOLANGCI_LINT) ## format the code (gofumpt, goimports)
	$(GOLANGCI_LINT) fmt ./...

.PHONY: verify
verify: fmt ## check formatting, go mod tidy, vet and lint; fail if any of them changed a file
	$(GO) mod tidy
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...
	@git diff --exit-code || { echo "verify: the files above changed; commit the result of 'make fmt' and 'go mod tidy'" >&2; exit 1; }

.PHONY: vulncheck
vulncheck: ## report known vulnerabilities in the code's call graph (govulncheck; needs vuln.go.dev)
	$(GO) run golang.org/x/vuln/cmd/govulncheck@v1.9.0 ./...

.PHONY: clean
clean: ## remove build outputs (keeps the cached Kafka jars)
	rm -rf bin
