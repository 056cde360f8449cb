# Shopify integration service — every operator task is a target here (`make help`).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# A setting in .env (see .env.example) counts for make's own steps too, as for the service; the
# environment wins over both.
dotenv = $(shell [ -f .env ] && sed -n 's/^$(1)=//p' .env | tail -n 1 | sed -e 's/^"\(.*\)"$$/\1/')
export DATABASE_URL ?= $(or $(call dotenv,DATABASE_URL),mysql://root@127.0.0.1:3306/shopify_integration)
export REDIS_URL ?= $(or $(call dotenv,REDIS_URL),redis://127.0.0.1:6379)
NPM_STAMP := node_modules/.install-stamp
SDK_STAMP := sdk/typescript/node_modules/.install-stamp

.PHONY: help install sdk-install services generate check-generated sdk sdk-pack check-docs check-newcomer demo bench test-faults migrate run api worker test test-unit lint typecheck build mock-shopify clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(NPM_STAMP): package.json package-lock.json
	@command -v node >/dev/null || { echo "Node.js 20 is required (https://nodejs.org or Debian's nodejs)"; exit 1; }
	npm ci --no-audit --no-fund
	@touch $@

install: $(NPM_STAMP) ## Install the exact dependency tree from package-lock.json

$(SDK_STAMP): sdk/typescript/package.json sdk/typescript/package-lock.json
	bash scripts/generate-sdk.sh --install

sdk-install: $(SDK_STAMP) ## Install the TypeScript SDK's own dependencies (the tests drive the service through it)

services: ## Find MariaDB/MySQL and Redis at DATABASE_URL/REDIS_URL, or start them (compose, else Debian packages)
	@bash scripts/services.sh

generate: install sdk-install ## Regenerate src/generated/ and the SDK's types from openapi/
	npm run -s generate
	npm run -s sdk

check-generated: install sdk-install ## Fail when src/generated/ or the SDK's types are stale
	npm run -s check:generated
	npm run -s check:sdk

sdk: generate ## Regenerate the TypeScript SDK (sdk/typescript) from the contract

sdk-pack: ## Build the SDK (ESM + CommonJS) into a tarball outside the repo and print its path: npm install "$$(make -s -C <repo> sdk-pack)"
	@bash scripts/sdk-pack.sh $(DIR)

check-docs: install ## Load /docs in headless Chromium (installed if missing): every tag and operation, Authorize
	npm run -s check:docs

check-newcomer: ## A newcomer's first five minutes on a clean clone: make run MOCK=1, a key, connect, data via API and SDK (ESM, CJS), Swagger UI Try it out
	@bash scripts/check-newcomer.sh

migrate: install services ## Create the database if needed and apply migrations
	npm run -s migrate

run: install services migrate ## Set up everything, then run the API and the worker (MOCK=1: and a mock Shopify store to connect); Ctrl-C stops all
	@MOCK=$(MOCK) bash scripts/run.sh

demo: install services ## End-to-end demo against a seeded mock Shopify: connect, sync, webhooks, counts (KEEP=1 keeps it serving)
	@node --import tsx scripts/demo.ts $(if $(KEEP),--keep)

api: install ## Run only the API
	npm run -s start:api

worker: install ## Run only the worker
	npm run -s start:worker

test: install sdk-install services check-generated lint ## Set up and run the whole test suite (real MariaDB and Redis)
	npm test

test-faults: install sdk-install services ## Fault suites (process kills, outages, Shopify faults, Redis data loss, 60 s load); minutes
	npm run -s test:faults

bench: install services ## Benchmarks of every hot path next to its baseline → docs/benchmarks.md (QUICK=1: a short run)
	npm run -s bench -- $(if $(QUICK),--quick)

test-unit: install ## Run the unit tests only
	npm run -s test:unit

lint: install sdk-install ## ESLint, tsc --noEmit, the OpenAPI linter, the layer rules (dependency-cruiser), the module map check and Prettier (format:check; `npm run format` fixes)
	npm run -s lint

typecheck: install sdk-install ## tsc --noEmit
	npm run -s typecheck

build: install ## Compile to dist/ (what the Docker image runs)
	npm run -s build

mock-shopify: install ## Run the mock Shopify with a seeded shop
	npm run -s mock-shopify

clean: ## Remove build output and installed modules
	rm -rf dist node_modules sdk/typescript/node_modules sdk/typescript/dist sdk/typescript/*.tgz
