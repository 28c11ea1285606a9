# jobplane: the two commands a newcomer needs are `make dev` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

DOTNET ?= dotnet
CONFIGURATION ?= Release
BIN := $(CURDIR)/bin
PUBLISH := $(DOTNET) publish -c $(CONFIGURATION) -r linux-x64 --self-contained false \
	-p:PublishSingleFile=true -p:PublishReadyToRun=true -p:DebugType=embedded --nologo -v quiet -o $(BIN)

.PHONY: help dev dev-stop build-all build-controller build-worker build-cli run-migrate run-controller run-worker \
	images test test-faults test-coverage screenshots bench bench-quick lint format clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

dev: ## start PostgreSQL (unless DATABASE_URL is set), a controller and an exec worker; run a hello job
	@scripts/dev.sh up

dev-stop: ## stop what `make dev` started
	@scripts/dev.sh down

build-all: build-controller build-worker build-cli ## build ./bin/jobplane-controller, ./bin/jobplane-worker, ./bin/jobctl

build-controller:
	@$(PUBLISH) src/Jobplane.Controller
build-worker:
	@$(PUBLISH) src/Jobplane.Worker
build-cli: ## build ./bin/jobctl only
	@$(PUBLISH) src/Jobplane.Cli

run-migrate: build-controller ## apply migrations, then serve (DATABASE_URL, SYSTEM_SECRET, WORKER_TOKEN)
	$(BIN)/jobplane-controller --migrate

run-controller: build-controller ## serve (the schema must be current)
	$(BIN)/jobplane-controller

run-worker: build-worker ## run a worker (CONTROLLER_URL, WORKER_TOKEN, RUNTIME, WORKER_CONCURRENCY)
	$(BIN)/jobplane-worker

images: ## build the container image jobplane:dev (controller, worker, jobctl) on a local Debian base, no registry needed
	@scripts/build-images.sh

test: ## run every test against real PostgreSQL and real processes (installs and starts what it needs)
	@scripts/test.sh

N ?= 2000
test-faults: build-all ## fault injection (N executions; SEED=): kill/pause/restart workers, controllers and PostgreSQL; nothing lost or done twice
	@scripts/ensure-postgres.sh
	@mkdir -p TestResults
	JOBPLANE_BIN=$(BIN) $(DOTNET) run --project tests/Jobplane.Faults -c Debug -- \
		--executions $(N) $(if $(SEED),--seed $(SEED)) --json $(CURDIR)/TestResults/faults.json

screenshots: build-all ## PNGs of the dashboard's main pages, on a local platform with demo data, into docs/screenshots
	@scripts/ensure-postgres.sh
	JOBPLANE_BIN=$(BIN) JOBPLANE_TEST_CHROMIUM="$$(scripts/ensure-chromium.sh)" \
		$(DOTNET) run --project tests/Jobplane.Dashboard.Screenshots -c Debug -- --out $(CURDIR)/docs/screenshots

bench: build-all ## the benchmark harness: throughput, latency, commits per job, peers in the same run (PostgreSQL's claim/complete ceiling, Hangfire) and ratios to them, claim latency vs backlog, schedules vs Quartz.NET, scale dimensions: 1,000 tenants, 500 idle workers, 10M executions (~30 min; bench/RESULTS.md)
	@scripts/ensure-postgres.sh
	JOBPLANE_BIN=$(BIN) $(DOTNET) run --project bench/Jobplane.Bench -c Release

bench-quick: build-all ## a smoke run of the benchmark harness with small backlogs and short windows (~10 min)
	@scripts/ensure-postgres.sh
	BENCH_QUICK=1 JOBPLANE_BIN=$(BIN) $(DOTNET) run --project bench/Jobplane.Bench -c Release

test-coverage: ## the test suite with coverage (Cobertura XML under ./coverage)
	@COVERAGE=1 scripts/test.sh

lint: ## compiler and analyzers with warnings as errors, and formatting
	$(DOTNET) build Jobplane.slnx -c Release --nologo -warnaserror
	$(DOTNET) format Jobplane.slnx --verify-no-changes --no-restore

format: ## apply the formatting rules
	$(DOTNET) format Jobplane.slnx

clean:
	rm -rf $(BIN) coverage TestResults
	find src tests -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} +
