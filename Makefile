# Paybill Infra — the two commands a new user needs:
#   make demo   provision the local stack (tenants on all three topologies) with the real Pulumi engine
#   make test   the whole suite: lint, types, unit, PostgreSQL, engine and isolation tests
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
EXTRAS ?= dev,policy,all,service
STACK ?= local

.PHONY: demo test venv engine env lint typecheck langhost-test stop clean help

help:
	@sed -n '2,3p' Makefile

$(VENV)/.installed-$(EXTRAS): pyproject.toml
	@echo "==> creating $(VENV) and installing paybill-infra[$(EXTRAS)] (first run downloads the cloud SDKs)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install --quiet --disable-pip-version-check 'uv>=0.5,<1'
	@$(UV) pip install --python $(PY) -e '.[$(EXTRAS)]'
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(VENV)/.installed-$(EXTRAS)

engine:
	@scripts/install-pulumi >/dev/null

env: venv engine
	@mkdir -p .paybill
	@$(VENV)/bin/paybill local env > .paybill/env
	@echo "==> wrote .paybill/env (source it to run plain pulumi commands here)"

demo: env
	@echo "==> pulumi up --stack $(STACK) (embedded PostgreSQL starts on demand under .paybill/postgres)"
	@source .paybill/env && (pulumi stack select $(STACK) 2>/dev/null || pulumi stack init $(STACK)) \
	  && pulumi up --stack $(STACK) --yes --skip-preview --suppress-progress
	@source .paybill/env && pulumi stack output --stack $(STACK) tenants
	@echo "==> done. Try: source .paybill/env && pulumi preview --stack $(STACK) --expect-no-changes"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check paybill_infra agent_acl

typecheck: venv
	$(VENV)/bin/mypy --strict paybill_infra agent_acl

langhost-test:
	@if command -v go >/dev/null; then cd scripts/pulumi-engine && GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
	  go vet ./langhost && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go test ./langhost; \
	else echo "==> no Go: skipping the language host's own tests (the engine came from PATH)"; fi

test: venv engine lint typecheck langhost-test
	$(VENV)/bin/pytest -q

stop: venv
	$(VENV)/bin/paybill local stop

clean: stop
	rm -rf .paybill
