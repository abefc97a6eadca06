# analytics_pipeline: `make run` for the live demo, `make test` for the whole suite.
#
# Configuration: the environment always wins. The devstack scripts fill in only what it does not
# set, first from your own git-ignored `.env`, then from the committed `.env.example`
# (devstack/env.sh). `make config` shows the values in effect and where each comes from.
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: run test test-profile up down lint format bench clean venv sysdeps config screenshots \
	example-engaged-users

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[test,bench]"
	@touch $(STAMP)

venv: $(STAMP)

# System packages the tests need beyond the machine image (PDF rasteriser for report tests,
# tmux for the Ctrl-C test, Debian's chromium for the browser tests).
sysdeps:
	@bash devstack/sysdeps.sh
	@bash devstack/browser.sh

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

# Most of the suite in parallel workers, then the tests that restart services, alone
# (devstack/test.sh; TEST_WORKERS=0 runs the first part in this one process).
test: venv sysdeps lint up
	@bash devstack/test.sh $(PYTEST_ARGS)

# `make test` measured: CPU-seconds per test file and per fixture setup
# (analytics_pipeline_tests/profiling.py), as Markdown in TEST_PROFILE_OUT. A subset:
# make test-profile PYTEST_ARGS="analytics_pipeline_tests/alerts".
TEST_PROFILE_DIR ?= .devstack/test-profile
TEST_PROFILE_OUT ?= .devstack/test-profile.md
test-profile: venv sysdeps up
	@rm -rf $(TEST_PROFILE_DIR)
	@bash devstack/test.sh -p analytics_pipeline_tests.profiling --cpu-profile=$(TEST_PROFILE_DIR) $(PYTEST_ARGS); \
	status=$$?; \
	$(VENV)/bin/python -m analytics_pipeline_tests.profiling $(TEST_PROFILE_DIR) >$(TEST_PROFILE_OUT) && \
	echo "devstack: CPU profile in $(TEST_PROFILE_OUT)"; \
	exit $$status

# run.sh gets default SIGINT/SIGTERM handlers even when make was started with them ignored
# (from a script, in the background), so Ctrl-C or a signal to the process group stops it.
run: venv up
	@env --default-signal=INT,TERM,HUP,PIPE bash devstack/run.sh

# The configuration in effect (environment, then .env, then .env.example); secrets hidden.
config:
	@bash devstack/config.sh

# The README's screenshots (docs/screenshots/), taken from the real pages in a real browser.
screenshots: venv sysdeps up
	$(VENV)/bin/python docs/make_screenshots.py

# The example service on the journey stream (examples/engaged_users/README.md), until Ctrl-C;
# the configuration as `make run` sees it (environment, then .env, then .env.example).
example-engaged-users: venv up
	@env --default-signal=INT,TERM bash -c 'source devstack/env.sh && exec $(VENV)/bin/python -m examples.engaged_users'

bench: venv up
	@bash bench/run_all.sh

clean: down
	rm -rf .devstack data
