# Gatehouse: the documented entry points. Each target says what it does.
SHELL := /bin/bash
.DEFAULT_GOAL := help

MODULES              := shared migrations server scripts
GOLANGCI_LINT_VERSION := v2.15.0
TOOLS_DIR            ?= $(HOME)/.cache/gatehouse-tools
GOLANGCI_LINT        := $(TOOLS_DIR)/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint

VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT     ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS    := -s -w -X gatehouse/server/internal/buildinfo.Version=$(VERSION) \
              -X gatehouse/server/internal/buildinfo.Commit=$(COMMIT) \
              -X gatehouse/server/internal/buildinfo.BuildDate=$(BUILD_DATE)

.PHONY: help build run test lint fmt bench clean tools

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

build: ## build bin/gatehouse and bin/load
	@echo "==> building bin/gatehouse ($(VERSION)) and bin/load"
	@mkdir -p bin
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/gatehouse ./server/cmd/gatehouse
	CGO_ENABLED=0 go build -trimpath -o bin/load ./scripts/load

run: build ## run the server on embedded SQLite at 127.0.0.1:8080 (./data/gatehouse.db), migrating first
	@echo "==> serving on $${GATEHOUSE_ADDR:-127.0.0.1:8080} (database: $${GATEHOUSE_DATABASE_URL:+PostgreSQL}$${GATEHOUSE_DATABASE_URL:-SQLite ./data/gatehouse.db}); Ctrl-C stops"
	./bin/gatehouse serve

test: ## run every module's tests with the race detector (PostgreSQL variants when GATEHOUSE_TEST_POSTGRES_URL is set)
	@echo "==> testing modules: $(MODULES) (race detector on)"
	@if [ -z "$$GATEHOUSE_TEST_POSTGRES_URL" ]; then echo "    GATEHOUSE_TEST_POSTGRES_URL unset: PostgreSQL variants will not run"; fi
	@set -e; for m in $(MODULES); do echo "--> $$m"; (cd $$m && go test -race -count=1 -timeout 15m ./...); done

lint: $(GOLANGCI_LINT) ## golangci-lint (pinned $(GOLANGCI_LINT_VERSION)), go vet, gofmt, go mod tidy check on every module
	@echo "==> linting modules: $(MODULES)"
	@set -e; for m in $(MODULES); do echo "--> $$m"; (cd $$m && go vet ./... && $(GOLANGCI_LINT) run --config ../.golangci.yml ./...); done
	@echo "--> gofmt"; test -z "$$(gofmt -l $(MODULES))" || { gofmt -l $(MODULES); echo "gofmt: run make fmt"; exit 1; }
	@echo "--> go mod tidy (must not change go.mod/go.sum)"
	@set -e; for m in $(MODULES); do (cd $$m && go mod tidy -diff) || { echo "go mod tidy would change $$m"; exit 1; }; done

$(GOLANGCI_LINT):
	@echo "==> installing golangci-lint $(GOLANGCI_LINT_VERSION) into $(dir $(GOLANGCI_LINT))"
	GOBIN=$(dir $(GOLANGCI_LINT)) GOFLAGS=-mod=mod go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

tools: $(GOLANGCI_LINT) ## install the pinned tools

fmt: ## gofmt every module
	@echo "==> gofmt -w $(MODULES)"
	gofmt -w $(MODULES)

bench: ## Go benchmarks, then load runs against a real server on SQLite (and PostgreSQL when GATEHOUSE_TEST_POSTGRES_URL is set)
	@echo "==> Go benchmarks"
	@set -e; for m in $(MODULES); do (cd $$m && go test -run '^$$' -bench . -benchmem ./...); done
	@echo "==> load runs (scripts/bench.sh)"
	bash scripts/bench.sh

clean: ## remove build output (bin/); leaves ./data alone
	@echo "==> removing bin/"
	rm -rf bin
