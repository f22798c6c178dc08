# Leerlingbus — every command sets up what it needs on a fresh machine.
#
#   make run     virtualenv + packages, RabbitMQ, migrations, bootstrap, all services + gateway
#   make test    virtualenv + packages, RabbitMQ with management; ruff + mypy; the suite on
#                SQLite; the database tests again on PostgreSQL when it answers; the fault
#                tests; the browser tests (Chromium + axe-core, installed here when missing)
#   make lint    ruff (lint, format) and mypy on services/common and gateway
#   make test-browser   only the browser tests (tests/browser, plain pytest)
#   make test-faults    only the fault tests (marker faults: poison events; tests/faults:
#                kill -9, broker restart on a private RabbitMQ node they start themselves)
#   make bench   the scripts under bench/
#   make clean   caches and build leftovers (clean-data: ./var, distclean: also .venv)

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
# Run the script with the venv's interpreter: never trust a shebang of a copied venv.
NAMEKO      := $(PY) $(VENV)/bin/nameko
STAMP       := $(VENV)/.leerlingbus-installed
PYTEST_ARGS ?= -q
# SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the pinned driver is psycopg2.
PG_TEST_URL ?= postgresql+psycopg2://postgres@127.0.0.1:5432/postgres
ARGS        ?=

.PHONY: help venv run test lint test-sqlite test-sqlite-a test-sqlite-b test-pg test-pg-a test-pg-b test-pg-half test-faults test-browser screenshots browser-setup rabbitmq bench clean clean-data distclean

help:
	@echo "make run | make test | make test-faults | make bench | make clean | make clean-data | make distclean"

# --------------------------------------------------------------------------- setup

$(PY):
	@py=""; \
	for candidate in python3.11 python3; do \
	  if command -v $$candidate >/dev/null 2>&1 && \
	     $$candidate -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then \
	    py=$$candidate; break; \
	  fi; \
	done; \
	if [ -z "$$py" ]; then \
	  echo "Leerlingbus needs Python 3.11 (python3.11, or python3 being 3.11)." >&2; \
	  echo "  Debian/Ubuntu: apt-get install -y python3.11 python3.11-venv" >&2; \
	  exit 1; \
	fi; \
	echo "==> creating $(VENV) with $$(command -v $$py)"; \
	$$py -m venv $(VENV)

# Reinstall only when pyproject.toml (the one place versions are pinned) changed.
$(STAMP): pyproject.toml | $(PY)
	@echo "==> installing the project and its pinned packages into $(VENV)"
	$(PY) -m pip install --disable-pip-version-check -q -e '.[test]'
	@touch $@

venv: $(STAMP)

rabbitmq: $(STAMP)
	$(PY) -m deploy.rabbitmq --management

# --------------------------------------------------------------------------- run

run: $(STAMP)
	$(PY) -m deploy.run $(ARGS)

# --------------------------------------------------------------------------- test

test: $(STAMP)
	@$(MAKE) --no-print-directory lint
	@echo "==> ensuring RabbitMQ with the management plugin"
	$(PY) -m deploy.rabbitmq --management
	@# Passes 1 and 2 wait on the broker and the databases more than on the CPU:
	@# they run side by side, each in two halves (each target's output is shown
	@# when it ends).
	@$(MAKE) --no-print-directory -j4 --output-sync=target test-sqlite-a test-sqlite-b test-pg-a test-pg-b
	@$(MAKE) --no-print-directory test-faults
	@$(MAKE) --no-print-directory test-browser

# The suite on SQLite (fault tests aside), in two halves that can run side by side.
SQLITE_A := tests/uploads tests/sync tests/oso tests/e2e tests/deploy services
SQLITE_B := tests/gateway tests/web tests/users tests/students tests/common tests/flows
test-sqlite: $(STAMP)
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite-a test-sqlite-b

test-sqlite-a: $(STAMP)
	@echo "==> pass 1/4 (a): $(SQLITE_A) on SQLite, fault tests aside"
	$(NAMEKO) test $(SQLITE_A) -m "not faults" $(PYTEST_ARGS)

test-sqlite-b: $(STAMP)
	@echo "==> pass 1/4 (b): $(SQLITE_B) on SQLite, fault tests aside"
	$(NAMEKO) test $(SQLITE_B) -m "not faults" $(PYTEST_ARGS)

# Style and types of the shared kernel and the gateway (settings in pyproject.toml).
lint: $(STAMP)
	@echo "==> ruff and mypy (services/common, gateway)"
	$(VENV)/bin/ruff check services/common gateway
	$(VENV)/bin/ruff format --check services/common gateway
	$(VENV)/bin/mypy

# Fault tests (marker `faults`): poison events on the shared broker, and tests/faults,
# which start their own RabbitMQ node and the system under the launcher, kill
# processes and restart that node; the shared broker is untouched.
test-faults: $(STAMP)
	$(PY) -m deploy.rabbitmq --management
	@echo "==> pass 3/4: fault tests (marker faults; tests/faults on a private RabbitMQ node)"
	$(NAMEKO) test tests services --ignore=tests/browser -m faults $(PYTEST_ARGS)

# The database-facing tests (marker `db`) again, each on a fresh PostgreSQL database,
# in the same two halves as pass 1 (PG_TESTS names one half; test-pg runs both).
PG_TESTS ?= tests services
test-pg: $(STAMP)
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-pg-a test-pg-b

test-pg-a: $(STAMP)
	@$(MAKE) --no-print-directory test-pg-half PG_TESTS="$(SQLITE_A)" HALF=a

test-pg-b: $(STAMP)
	@$(MAKE) --no-print-directory test-pg-half PG_TESTS="$(SQLITE_B)" HALF=b

test-pg-half: $(STAMP)
	@if $(PY) -c "import psycopg2; psycopg2.connect('$(PG_TEST_URL)'.replace('+psycopg2', ''), connect_timeout=3).close()" \
	     >/dev/null 2>&1; then \
	  echo "==> pass 2/4 ($(HALF)): database tests (-m db) in $(PG_TESTS) on PostgreSQL ($(PG_TEST_URL))"; \
	  rc=0; \
	  LEERLINGBUS_TEST_POSTGRES_URL='$(PG_TEST_URL)' $(NAMEKO) test $(PG_TESTS) \
	    --ignore=tests/browser $(PYTEST_ARGS) -m "db and not faults" || rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "==> pass 2/4 ($(HALF)): no database tests collected"; rc=0; fi; \
	  exit $$rc; \
	else \
	  echo "==> pass 2/4 skipped: PostgreSQL does not answer at $(PG_TEST_URL)"; \
	fi

# The browser tests drive Debian's chromium through Playwright and check every page
# with axe-core. What they need is installed here when it is missing: chromium with
# apt-get (as root), axe-core with npm from tests/browser/package-lock.json. Without a
# browser they skip, saying so (in CI, CI=true, they fail instead).
browser-setup: $(STAMP)
	@if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "==> installing chromium (apt-get)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || \
	    echo "==> could not install chromium; the browser tests will say so"; \
	  else \
	    echo "==> no chromium and no root apt-get: the browser tests will be skipped"; \
	  fi; \
	fi
	@if [ ! -f tests/browser/node_modules/axe-core/axe.min.js ]; then \
	  if command -v npm >/dev/null 2>&1; then \
	    echo "==> installing axe-core (npm ci --prefix tests/browser)"; \
	    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error || \
	    echo "==> npm ci failed; the browser tests will say so"; \
	  else \
	    echo "==> no npm: the browser tests will be skipped (apt-get install npm)"; \
	  fi; \
	fi

test-browser: browser-setup
	$(PY) -m deploy.rabbitmq --management
	@echo "==> pass 4/4: browser tests (tests/browser, Chromium + axe-core)"
	$(PY) -m pytest tests/browser $(PYTEST_ARGS)

# The browser tests again, writing the pictures in docs/screenshots/.
screenshots: browser-setup
	$(PY) -m deploy.rabbitmq --management
	LEERLINGBUS_DOC_SCREENSHOTS=1 $(PY) -m pytest tests/browser $(PYTEST_ARGS)

# --------------------------------------------------------------------------- bench

bench: $(STAMP)
	$(PY) -m deploy.rabbitmq --management
	@found=0; \
	for script in bench/*.py bench/*.sh; do \
	  [ -f "$$script" ] || continue; \
	  found=1; \
	  echo "==> bench: $$script"; \
	  case "$$script" in \
	    *.py) PYTHONPATH=$(CURDIR) $(PY) "$$script" || exit $$?;; \
	    *.sh) PATH=$(CURDIR)/$(VENV)/bin:$$PATH bash "$$script" || exit $$?;; \
	  esac; \
	done; \
	if [ $$found = 0 ]; then echo "==> no benchmarks under bench/"; fi

# --------------------------------------------------------------------------- clean

clean:
	rm -rf build dist *.egg-info .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# Local databases, uploads, logs, generated secrets of `make run` (default data dir).
clean-data:
	rm -rf var

distclean: clean clean-data
	rm -rf $(VENV)
