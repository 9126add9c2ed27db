# VerifyAI developer entry points. `make run` and `make test` are all you need.
#
#   make install   .venv (python3.11) + pip install -e '.[dev]', redone only when pyproject.toml changes
#   make run       migrate, demo customer, Celery worker + gunicorn on 127.0.0.1:$(PORT) (scripts/run-local)
#   make test      pytest in a scratch VERIFYAI_DATA_DIR; extra arguments: make test PYTEST_ARGS='-k verify -x'
#   make lint      ruff check
#   make clean     caches and collected static files (keeps .venv and var/); make distclean drops both

SHELL := /bin/bash
.DEFAULT_GOAL := help

# python3.11 when it exists, else python3 (must be >= 3.11, see pyproject.toml).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
export PORT ?= 8000

.PHONY: help install run test lint clean distclean

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

install: $(STAMP)

$(VENV_PYTHON):
	@test -n "$(PYTHON)" || { echo "python3.11 (or python3 >= 3.11) is required" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "$(PYTHON) is older than Python 3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# The stamp is newer than pyproject.toml once the install succeeded; a failed
# install leaves no stamp, so the next run tries again.
$(STAMP): pyproject.toml | $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: install
	./scripts/run-local

# Each run gets its own VERIFYAI_DATA_DIR: the tests' SQLite files, media and the
# filesystem broker queue never mix with var/ (your make run) or another test run; nor do the
# tests' tmp_path folders (pytest prunes other runs' numbered folders when it starts).
test: install
	@data_dir="$$(mktemp -d -t verifyai-test.XXXXXX)"; trap 'rm -rf "$$data_dir"' EXIT; \
	echo "VERIFYAI_DATA_DIR=$$data_dir $(VENV_PYTHON) -m pytest $(PYTEST_ARGS)"; \
	VERIFYAI_DATA_DIR="$$data_dir" $(VENV_PYTHON) -m pytest --basetemp "$$data_dir/pytest" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

clean:
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache build dist var/static

distclean: clean
	rm -rf $(VENV) var
