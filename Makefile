# The two commands of the README's quick start are `make dev` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: dev test smoke demo lint bench clean

$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "promptsync needs Python 3.11 or newer (PY=$(PY))"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

dev: $(STAMP)  ## install, then run the local stack on the example prompts/
	$(BIN)/promptsync dev

test: $(STAMP) lint  ## install, lint, then run the whole suite (Postgres tests skip outside CI if it is down)
	$(BIN)/pytest -n auto

# Given the module's path: collecting the whole suite to deselect it would cost seconds; and
# without the fuzzing plugins it never uses, whose import alone takes a second or more.
smoke: $(STAMP)  ## install, then only the first-minute flow against a real server (under 10 s)
	$(BIN)/pytest -m smoke -p no:schemathesis -p no:hypothesispytest -p no:anyio \
		tests/system/test_smoke.py

$(DEMO_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[demo]'
	@touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)  ## regenerate docs/demo.gif: promptsync dev on a copy of prompts/, Chromium, curl, vim
	$(BIN)/python -m tools.demo docs/demo.gif

lint: $(STAMP)  ## ruff, mypy, and the import contracts of setup.cfg (layers point down)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)  ## figures for docs/BENCHMARKS.md
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
