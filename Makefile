# Gatehouse: the documented entry points. Each target says what it does.
SHELL := /bin/bash
.DEFAULT_GOAL := help

MODULES              := shared assets migrations server scripts deploy desktop
GOLANGCI_LINT_VERSION := v2.15.0
TOOLS_DIR            ?= $(HOME)/.cache/gatehouse-tools
GOLANGCI_LINT        := $(TOOLS_DIR)/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint
FYNE_TOOLS_VERSION   := v1.7.4
FYNE                 := $(TOOLS_DIR)/fyne-$(FYNE_TOOLS_VERSION)/fyne

VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT     ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
# The console's version for fyne package: a release tag's x.y.z, else FyneApp.toml's.
CONSOLE_VERSION := $(shell echo '$(VERSION)' | grep -Eo '^v?[0-9]+\.[0-9]+\.[0-9]+' | sed 's/^v//')
LDFLAGS    := -s -w -X gatehouse/server/internal/buildinfo.Version=$(VERSION) \
              -X gatehouse/server/internal/buildinfo.Commit=$(COMMIT) \
              -X gatehouse/server/internal/buildinfo.BuildDate=$(BUILD_DATE)

.PHONY: help build run test test-cluster lint fmt bench clean tools compose-up vaultdev desktop desktop-package screenshots

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

build: ## build bin/gatehouse and bin/load
	@echo "==> building bin/gatehouse ($(VERSION)) and bin/load"
	@mkdir -p bin
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/gatehouse ./server/cmd/gatehouse
	CGO_ENABLED=0 go build -trimpath -o bin/load ./scripts/load

run: build ## run the server on embedded SQLite at 127.0.0.1:8080 (./data/gatehouse.db), migrating first; SMS and mail codes print on the terminal
	@echo "==> serving on $${GATEHOUSE_ADDR:-127.0.0.1:8080} (database: $${GATEHOUSE_DATABASE_URL:+PostgreSQL}$${GATEHOUSE_DATABASE_URL:-SQLite ./data/gatehouse.db}); Ctrl-C stops"
	@echo "    demo delivery: SMS and mail go to in-process fakes and are printed here (GATEHOUSE_DEMO_DELIVERY=false turns it off)"
	GATEHOUSE_DEMO_DELIVERY=$${GATEHOUSE_DEMO_DELIVERY:-true} ./bin/gatehouse serve

test: vaultdev ## run every module's tests with the race detector (PostgreSQL variants when GATEHOUSE_TEST_POSTGRES_URL is set)
	@echo "==> testing modules: $(MODULES) (race detector on)"
	@if [ -z "$$GATEHOUSE_TEST_POSTGRES_URL" ]; then echo "    GATEHOUSE_TEST_POSTGRES_URL unset: PostgreSQL variants will not run"; fi
	@if [ -z "$$GATEHOUSE_TEST_VAULT_ADDR" ]; then echo "    GATEHOUSE_TEST_VAULT_ADDR unset: the vault backend's tests start their own scripts/vaultdev"; fi
	@set -e; for m in $(MODULES); do echo "--> $$m"; (cd $$m && go test -race -count=1 -timeout 15m ./...); done

test-cluster: ## the scale-out test: three real gatehouse processes on one PostgreSQL and Redis behind a round-robin proxy (needs GATEHOUSE_TEST_POSTGRES_URL and GATEHOUSE_TEST_REDIS_URL)
	@echo "==> cluster test (server/internal/clustertest, build tag cluster): 3 gatehouse replicas + a proxy on PostgreSQL and Redis"
	@if [ -z "$$GATEHOUSE_TEST_POSTGRES_URL" ] || [ -z "$$GATEHOUSE_TEST_REDIS_URL" ]; then \
	  echo "test-cluster: GATEHOUSE_TEST_POSTGRES_URL and GATEHOUSE_TEST_REDIS_URL must name a real PostgreSQL and Redis"; exit 1; fi
	cd server && go test -race -tags cluster -count=1 -timeout 15m -v -run '^TestCluster$$' ./internal/clustertest/

vaultdev: ## build scripts/vaultdev, a real in-memory Vault core for the vault backend's tests (cached in the tools dir by content)
	@echo "==> scripts/vaultdev (own module, GOWORK=off; the first build of Vault takes several minutes, then it is cached)"
	@TOOLS_DIR=$(TOOLS_DIR) bash scripts/vaultdev/build.sh

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

compose-up: ## start the local stack (gatehouse, PostgreSQL, Redis, Mailpit, Vault dev) with Docker Compose
	@echo "==> docker compose (docker-compose.yml): build the gatehouse image ($(VERSION)), start postgres, redis, mailpit, vault, run migrations, then gatehouse"
	@command -v docker >/dev/null || { echo "compose-up: the docker command is not installed"; exit 1; }
	@docker compose version >/dev/null 2>&1 || { echo "compose-up: the Docker Compose plugin is missing (docker compose version failed)"; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "compose-up: no Docker engine is reachable (docker info failed): start Docker or set DOCKER_HOST"; exit 1; }
	@# Mode 0644 because compose bind-mounts the file into the container, where the non-root user must read it.
	@test -s deploy/compose/master.key || { echo "--> generating the development master key deploy/compose/master.key (git-ignored; keep it with the postgres-data volume)"; \
	  mkdir -p deploy/compose && head -c 32 /dev/urandom | base64 > deploy/compose/master.key && chmod 0644 deploy/compose/master.key; }
	docker compose build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg BUILD_DATE=$(BUILD_DATE)
	docker compose up --detach --wait
	@echo "==> up: gatehouse http://127.0.0.1:8080 (API reference at /docs), Mailpit http://127.0.0.1:8025, Vault http://127.0.0.1:8200; docker compose logs -f gatehouse shows the first admin password"

desktop: ## run the desktop console (Fyne; needs a display, OpenGL and X11 headers to build: see desktop/README.md)
	@echo "==> running the Gatehouse console (desktop/cmd/console); server offered: $${GATEHOUSE_CONSOLE_SERVER:-http://127.0.0.1:8080}"
	cd desktop && go run ./cmd/console --server "$${GATEHOUSE_CONSOLE_SERVER:-http://127.0.0.1:8080}"

$(FYNE):
	@echo "==> installing fyne's packaging tool fyne.io/tools $(FYNE_TOOLS_VERSION) into $(dir $(FYNE))"
	GOBIN=$(dir $(FYNE)) GOFLAGS=-mod=mod go install fyne.io/tools/cmd/fyne@$(FYNE_TOOLS_VERSION)

desktop-package: $(FYNE) ## build a distributable of the console with fyne package (Linux tarball in dist/)
	@echo "==> fyne package ($(FYNE_TOOLS_VERSION)): desktop/cmd/console/FyneApp.toml, icon desktop/assets/icon.png -> dist/"
	@mkdir -p dist
	@# fyne package bumps Build in FyneApp.toml after every run: keep the committed file as it is.
	cd desktop/cmd/console && cp FyneApp.toml FyneApp.toml.orig && \
	  { $(FYNE) package --os linux --release --icon ../../assets/icon.png $(if $(CONSOLE_VERSION),--app-version $(CONSOLE_VERSION)); rc=$$?; \
	    mv FyneApp.toml.orig FyneApp.toml; exit $$rc; }
	mv "desktop/cmd/console/Gatehouse Console.tar.xz" dist/gatehouse-console-linux-amd64.tar.xz
	@echo "==> dist/gatehouse-console-linux-amd64.tar.xz"

screenshots: ## start a seeded server and the console under Xvfb, visit every screen, write docs/screenshots/*.png
	@echo "==> scripts/screenshots.sh: seeded server on a temp SQLite dir + console under Xvfb -> docs/screenshots/"
	bash scripts/screenshots.sh

clean: ## remove build output (bin/); leaves ./data alone
	@echo "==> removing bin/"
	rm -rf bin
