# Leerlingbus — every command sets up what it needs on a fresh machine.
#
#   make run     virtualenv + packages, RabbitMQ, migrations, bootstrap, all services + gateway
#   make test    virtualenv + packages, RabbitMQ with management, the suite (SQLite),
#                then the database tests again on PostgreSQL when it answers
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

.PHONY: help venv run test test-pg rabbitmq bench clean clean-data distclean

help:
	@echo "make run | make test | make bench | make clean | make clean-data | make distclean"

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
	@echo "==> ensuring RabbitMQ with the management plugin"
	$(PY) -m deploy.rabbitmq --management
	@echo "==> pass 1/2: the whole suite (tests services) on SQLite"
	$(NAMEKO) test tests services $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-pg

# The database-facing tests (marker `db`) again, each on a fresh PostgreSQL database.
test-pg: $(STAMP)
	@if $(PY) -c "import psycopg2; psycopg2.connect('$(PG_TEST_URL)'.replace('+psycopg2', ''), connect_timeout=3).close()" \
	     >/dev/null 2>&1; then \
	  echo "==> pass 2/2: database tests (-m db) on PostgreSQL ($(PG_TEST_URL))"; \
	  rc=0; \
	  LEERLINGBUS_TEST_POSTGRES_URL='$(PG_TEST_URL)' $(NAMEKO) test tests services $(PYTEST_ARGS) -m db \
	    || rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "==> pass 2/2: no database tests collected"; rc=0; fi; \
	  exit $$rc; \
	else \
	  echo "==> pass 2/2 skipped: PostgreSQL does not answer at $(PG_TEST_URL)"; \
	fi

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
