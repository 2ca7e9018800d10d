# openTelecom: two commands set up everything on a fresh Debian machine.
#   make run    install, migrate the embedded SQLite database, seed the demo if empty, serve on 127.0.0.1:$(PORT)
#   make test   install and start what the tests need, then lint, types and the whole suite on PostgreSQL

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
TEST_PG ?= postgresql://postgres@127.0.0.1:5432/postgres
PYTEST_ARGS ?=

.PHONY: run test lint types unit services services-stop bench lock clean system-deps-run system-deps-test asterisk-root

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed-run: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@ $(VENV)/.installed-run

system-deps-run:
	tools/system-deps.sh run

system-deps-test:
	tools/system-deps.sh test

# Asterisk 22 runs from a Debian unstable root, built once into a cache outside the working tree
# (OPENTELECOM_ASTERISK_ROOT, default /var/cache/opentelecom/asterisk-root); later runs return at once.
asterisk-root: system-deps-test
	tools/asterisk_root.sh

run: system-deps-run $(VENV)/.installed-run
	$(BIN)/opentelecom db upgrade
	$(BIN)/opentelecom demo seed --if-empty
	PORT=$(PORT) $(BIN)/opentelecom serve --host 127.0.0.1 --port $(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(VENV)/.installed-dev
	$(BIN)/mypy

unit: $(VENV)/.installed-dev
	mkdir -p build
	OPENTELECOM_TEST_PG=$(TEST_PG) $(BIN)/pytest --junitxml=build/test-results.xml $(PYTEST_ARGS)
	$(BIN)/python tools/check_junit.py build/test-results.xml

test: system-deps-test asterisk-root $(VENV)/.installed-dev
	tools/postgres.sh
	$(MAKE) --no-print-directory lint types unit

# The real servers for running the whole stack by hand, on the database in OPENTELECOM_DATABASE_URL
# (PostgreSQL): FreeRADIUS, Asterisk, snmpsim and snmpd (tools/services.sh). snmpsim is a dev requirement,
# so this needs the dev virtualenv.
services: system-deps-test $(VENV)/.installed-dev
	tools/postgres.sh
	tools/services.sh start

services-stop:
	tools/services.sh stop

bench: $(VENV)/.installed-dev
	mkdir -p build
	$(BIN)/python tools/bench.py

# Regenerate the pinned lock files from pyproject.toml (no index URLs or local paths in them).
lock: | $(BIN)/python
	$(BIN)/pip install -q pip-tools
	$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
		--output-file requirements.lock pyproject.toml
	$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
		--extra dev --output-file requirements-dev.lock pyproject.toml

clean:
	rm -rf build .mypy_cache .ruff_cache .pytest_cache
