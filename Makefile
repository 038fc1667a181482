# jetfort — every target installs what it needs into .venv first (idempotent).
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints/constraints-3.3.2-py3.11.txt
STAMP := $(VENV)/.jetfort-installed
PYTEST_ARGS ?=

# Airflow for make targets lives inside the repo (git-ignored).
export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__PARALLELISM := 4
export AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES := airflow.* jetfort.*
export JETFORT_MAPPINGS_DIR := $(CURDIR)/include/mappings
export PATH := $(CURDIR)/$(BIN):$(PATH)

# `make up` ports (override on the command line or in the environment, e.g.
# `make up JETFORT_UI_PORT=18080 AIRFLOW_HOME=/tmp/x ...` for a second, independent stack).
# PostgreSQL listens on a Unix socket in $(AIRFLOW_HOME)/postgres only: no port to clash.
JETFORT_UI_PORT ?= 8080
JETFORT_FORTNOX_PORT ?= 8801
JETFORT_JETSHOP_PORT ?= 8802
JETFORT_NORCE_PORT ?= 8803
JETFORT_LOG_PORT ?= 8793
JETFORT_TRIGGER_LOG_PORT ?= 8794
export JETFORT_UI_PORT JETFORT_FORTNOX_PORT JETFORT_JETSHOP_PORT JETFORT_NORCE_PORT JETFORT_LOG_PORT JETFORT_TRIGGER_LOG_PORT

.PHONY: install install-browser demo test test-distributed lint up down status bench soak clean constraints

$(STAMP): requirements.txt requirements-dev.txt $(CONSTRAINTS) pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -r requirements-dev.txt -c $(CONSTRAINTS)
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

install: $(STAMP)

# The browser test's browser: the system's Chromium (Debian's `chromium`), installed with apt-get when
# missing. Playwright drives it through its path and never downloads a browser of its own.
CHROMIUM ?= /usr/bin/chromium
install-browser:
	@test -x $(CHROMIUM) || { echo "installing chromium (apt-get) for the browser test"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	@test -x $(CHROMIUM) || { echo "no Chromium at $(CHROMIUM) after apt-get install chromium" >&2; exit 1; }

demo: install
	$(BIN)/python -m sandbox.demo

lint: install
	$(BIN)/ruff check plugins/jetfort sandbox tests bench dags
	$(BIN)/mypy plugins/jetfort

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Airflow's CeleryExecutor topology without containers (the docker-compose.yaml shape). Needs
# PostgreSQL and Redis; .ci/run starts them and exports JETFORT_TEST_POSTGRES_URL / _REDIS_URL.
# tests/browser: the jetfort page in the system's Chromium (Playwright) on a `make up` stack.
test-distributed: install install-browser
	JETFORT_DISTRIBUTED=1 JETFORT_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest tests/distributed tests/browser -s -p no:cacheprovider $(PYTEST_ARGS)

# Embedded PostgreSQL, the sandboxes (Fortnox, Jetshop, Norce) and Airflow (LocalExecutor) under one supervisor; see sandbox/stack.py.
up: install
	@$(BIN)/python -m sandbox.stack up

status:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m sandbox.stack status; else echo "not installed"; exit 1; fi

down:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m sandbox.stack down; else echo "nothing to stop"; fi

bench: install
	@set -e; for script in $(filter-out bench/soak%.py,$(wildcard bench/*.py)); do echo "== $$script"; $(BIN)/python $$script; done

# Issue 17's soak (not in `make bench` or `make test`): 10 000 orders, two tenants, 10 % faults, PostgreSQL
# and Redis restarted, a worker killed; its own PostgreSQL and redis-server. SOAK_ARGS="--orders 300" to try it.
soak: install
	nice -n 10 $(BIN)/python bench/soak.py $(SOAK_ARGS)

clean: down
	rm -rf .airflow

# Re-pin every transitive package after changing requirements*.txt (commit the result).
constraints: install
	@{ head -n 4 $(CONSTRAINTS); $(BIN)/python -m pip freeze --exclude-editable | grep -v '^jetfort'; } > $(CONSTRAINTS).new
	@mv $(CONSTRAINTS).new $(CONSTRAINTS) && echo "wrote $(CONSTRAINTS)"
