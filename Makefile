# The course in two commands: `make book` and `make test`. Both set up .venv first.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
.DEFAULT_GOAL := help

# Debian's interpreter is readable by every user, which the isolated grader needs; else python3.
PYTHON ?= $(shell test -x /usr/bin/python3.11 && echo /usr/bin/python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.course-installed
SYSTEM_STAMP := $(VENV)/.system-checked
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1
# One BLAS/OpenMP thread per process: on small shared machines torch's default thread count
# was measured about 10x slower, and the test run already uses one process per core.
export OMP_NUM_THREADS ?= 1
DATA_STAMP := $(VENV)/.data-checked
# axe-core for the accessibility check of the built book (npm, pinned in package-lock.json).
AXE := node_modules/axe-core/axe.min.js

# Chapters executed at once before the book build (one per core of a small machine).
BOOK_WORKERS ?= 2
# pytest-xdist workers for `make test` and `make test-fast`.
TEST_WORKERS ?= 2
# What `make test-fast` leaves out (markers set in tests/conftest.py, registered in pyproject.toml).
SLOW_MARKERS := not (book or browser or notebooks or nbgrader)

.PHONY: help setup book test test-fast lint clean

help:
	@echo "make book       set up .venv and build the HTML book into _build/html"
	@echo "make test       set up .venv and run every test"
	@echo "make test-fast  library and grading unit tests: no book, no browser, no notebook or nbgrader runs"
	@echo "make lint       ruff check (settings in pyproject.toml)"
	@echo "make clean      remove build outputs (keeps .venv)"

# The virtual environment is rebuilt only when the pins, the package metadata or the installer change.
$(STAMP): requirements.txt pyproject.toml scripts/install_python.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "setup: installing the pinned stack into $(VENV) (about a minute the first time)"
	@scripts/install_python.sh $(BIN)/python
	@touch $@

$(SYSTEM_STAMP): scripts/setup_system.sh | $(STAMP)
	@scripts/setup_system.sh
	@touch $@

$(DATA_STAMP): scripts/setup_data.sh | $(STAMP)
	@scripts/setup_data.sh $(BIN)/python
	@touch $@

$(AXE): package.json package-lock.json | $(SYSTEM_STAMP)
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --loglevel=error && touch $@ \
	    || echo "setup: npm ci failed, so axe-core is missing and the accessibility tests are skipped"; \
	else echo "setup: npm not found, so axe-core is missing and the accessibility tests are skipped"; fi

setup: $(STAMP) $(SYSTEM_STAMP) $(DATA_STAMP) $(AXE)

# The chapters are executed into jupyter-book's cache first, BOOK_WORKERS at a time (jupyter-book alone
# runs them one after another); the build then finds each one cached. A chapter that fails there runs
# again in the build, which reports it with the others and fails. When nothing the HTML is made from
# has changed since the last successful build (book/_ext/book_inputs.py), jupyter-book is not started.
BOOK_STAMP := _build/html/.book-inputs
book: setup
	@start=$$(date +%s); \
	$(BIN)/python book/_ext/execute_chapters.py --cache _build/.jupyter_cache --workers $(BOOK_WORKERS); executed=$$?; \
	if [ $$executed -eq 0 ] && $(BIN)/python book/_ext/book_inputs.py check $(BOOK_STAMP); then \
	  echo "book: _build/html is up to date with the chapters, their outputs and the configuration"; status=0; \
	else \
	  $(BIN)/jupyter-book build . -W -n --keep-going --builder html; status=$$?; \
	  if [ $$status -eq 0 ] && [ $$executed -eq 0 ]; then $(BIN)/python book/_ext/book_inputs.py write $(BOOK_STAMP); fi; \
	fi; \
	$(BIN)/python book/_ext/execution_times.py _build/.jupyter_cache; \
	if [ $$status -eq 0 ]; then status=$$executed; fi; \
	echo "book: built in $$(( $$(date +%s) - start )) s (exit $$status); open _build/html/index.html"; \
	exit $$status

# Two workers. Each test file runs on one worker (its module fixtures are built once), except where tests
# say otherwise with an xdist_group: the chapters and the book build share the group "book" (the chapters
# run once, two at a time), each nbgrader source notebook has a group of its own (tests/conftest.py).
test: setup
	@start=$$(date +%s); \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup tests; status=$$?; \
	echo "test: finished in $$(( $$(date +%s) - start )) s (exit $$status)"; \
	exit $$status

# The edit loop: what the library and the grader's units do, in about a minute or two on 2 cores.
test-fast: setup
	@start=$$(date +%s); \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "$(SLOW_MARKERS)" tests; status=$$?; \
	echo "test-fast: finished in $$(( $$(date +%s) - start )) s (exit $$status)"; \
	exit $$status

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf _build .pytest_cache
