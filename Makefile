# analytics_pipeline: `make run` for the live demo, `make test` for the whole suite.
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: run test up down lint format bench clean venv sysdeps

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[test,bench]"
	@touch $(STAMP)

venv: $(STAMP)

# System packages the tests need beyond the machine image (PDF rasteriser for report tests).
sysdeps:
	@bash devstack/sysdeps.sh

up: venv
	@bash devstack/up.sh

down:
	@bash devstack/down.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: venv sysdeps lint up
	$(VENV)/bin/pytest $(PYTEST_ARGS)

run: venv up
	@bash devstack/run.sh

bench: venv up
	@bash bench/run_all.sh

clean: down
	rm -rf .devstack data
