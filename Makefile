# Connect & Claim. `make run` serves the whole thing; `make test` checks it.
# Both bootstrap .venv from pyproject.toml and are safe to run again.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12 or newer: pyenv (.python-version) or a python3.12 on PATH.
PYTHON ?= $(shell command -v python3.12 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

# The environment the checks and the test suite run in (pytest adds the same via
# pyproject.toml); a developer's .env is not needed for either.
TEST_ENV := SECRET_KEY=test-only-secret-key CLAIM_SECRETS_KEYS=test-only-claim-secrets-key-0123456789abcdef ALLOWED_HOSTS=testserver,localhost,127.0.0.1 SANDBOX=true PIPEDREAM_CLIENT_ID=sandbox-client-id PIPEDREAM_CLIENT_SECRET=sandbox-client-secret-not-for-production PIPEDREAM_PROJECT_ID=proj_sandbox BITBADGES_API_KEY=sandbox-bitbadges-api-key ALLOW_SANDBOX_WITHOUT_DEBUG=true PIPEDREAM_WORKFLOW_ENDPOINTS=en-sandbox-github,en-sandbox-discord,en-sandbox-claim-github,en-sandbox-claim-github-default,en-sandbox-claim-github-default-json,en-sandbox-claim-github-action

# The suite runs in one process per core (pytest-xdist), each taking whole files, so that
# a file's module fixtures (a live server, a sandbox) start once. TEST_PROCESSES=0: one.
TEST_PROCESSES ?= auto

.PHONY: help setup run run-scaled test lint typecheck bench clean messages compilemessages gettext

help:
	@echo "make run    set up, migrate, seed demo data, serve web + task worker + sandbox on http://$(HOST):$(PORT)"
	@echo "make test   set up, then check, makemigrations --check, the import contracts, and the whole test suite"
	@echo "make run-scaled  the same app on PostgreSQL + Redis, 2 gunicorn processes, 2 task workers"
	@echo "make bench  the benchmarks in bench/ (PostgreSQL, Redis, gunicorn); prints their figures"
	@echo "make lint   ruff check, ruff format --check, no product module over 600 lines, then typecheck"
	@echo "make typecheck  mypy with django-stubs (strict on core, the API clients and the claims engine)"
	@echo "make messages  refresh the message catalogues in locale/ from the marked strings"
	@echo "make clean  remove the virtual environment, database and collected static files"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Python 3.12 or newer is needed (found " + sys.version.split()[0] + "); install it or set PYTHON=/path/to/python3.12")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP) compilemessages

# --- Translation ----------------------------------------------------------------------
# The catalogues: locale/<language>/LC_MESSAGES/django.po, committed (locale/en is the
# source translators start from); the .mo files are built from them, never committed.
# Both steps need GNU gettext's msgfmt and xgettext. MESSAGES_IGNORE: what makemessages
# and compilemessages leave out (the sandbox stands in for Pipedream and BitBadges; the
# rest is tooling). tests/i18n/test_translation_ready.py reads this line.
MESSAGES_IGNORE := .venv node_modules staticfiles sandbox tests bench scripts docs deploy

gettext:
	@command -v msgfmt >/dev/null 2>&1 && command -v xgettext >/dev/null 2>&1 || { \
	  echo "GNU gettext (msgfmt, xgettext) is needed to build the translation catalogues: install it (Debian/Ubuntu: sudo apt-get install gettext; macOS: brew install gettext) and run make again."; \
	  exit 1; }

# The .mo files Django reads, from the committed .po files (every make setup, run, test).
compilemessages: $(STAMP) gettext
	@$(TEST_ENV) ENV_FILE= $(PY) manage.py compilemessages $(addprefix --ignore=,$(MESSAGES_IGNORE)) >/dev/null

# Every language in locale/ again from the marked strings (new ones added, gone ones
# dropped, file names without line numbers so a diff shows only real changes). The
# POT-Creation-Date line is removed: it would change on every run.
messages: $(STAMP) gettext
	$(TEST_ENV) ENV_FILE= $(PY) manage.py makemessages --all --no-obsolete --add-location=file $(addprefix --ignore=,$(MESSAGES_IGNORE))
	@for po in locale/*/LC_MESSAGES/django.po; do \
	  sed -i.bak '/^"POT-Creation-Date: /d' "$$po" && rm -f "$$po.bak"; done

# A development .env (DEBUG on, sandbox on) the first time; an existing one is kept.
.env:
	cp .env.example .env
	@echo "Created .env from .env.example (development defaults)."

# Migrate, the sandbox's setup (with the sandbox on, the default with DEBUG on and no
# Pipedream client ID: it makes its demo upstream and writes its credentials into .env),
# seed_demo, then web + task worker under honcho: scripts/run_dev.py, which hands every
# step the same HOST, PORT and PUBLIC_URL. The environment wins over .env, as in the
# settings: `PORT=8301 make run` serves, and links, on 8301.
run: setup .env
	HOST=$(HOST) PORT=$(PORT) $(PY) scripts/run_dev.py

# Production's layout on one machine: PostgreSQL and Redis (the local services, or
# SCALED_DATABASE_URL / SCALED_CACHE_URL), gunicorn with 2 processes, 2 db_workers and a
# scheduler for complete_claims / recheck_claims. See README, "Running it at scale".
run-scaled: setup
	$(PY) scripts/run_scaled.py --host $(HOST) --port $(PORT)

test: setup
	$(TEST_ENV) $(PY) manage.py check
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports --no-cache
	$(PY) scripts/import_cycles.py
	$(VENV)/bin/pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) scripts/module_sizes.py
	$(MAKE) --no-print-directory typecheck

# The mypy plugin imports config.settings, which reads the environment: TEST_ENV, no .env.
typecheck: setup
	$(TEST_ENV) ENV_FILE= $(VENV)/bin/mypy

bench: setup
	$(PY) bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db.sqlite3-wal db.sqlite3-shm
