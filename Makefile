# The two commands of the README's quick start are `make dev` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two stamps: make dev installs the product alone; test, lint, smoke and bench add the test extras.
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed-demo
# The checkout itself on sys.path (a .pth file), beside setuptools' editable import hook: Python
# asks that hook only after sys.path, so a script beside a clone folder named promptsync/ got
# that folder (an empty namespace package) instead of the package.
ON_PATH := import pathlib, site; pathlib.Path(site.getsitepackages()[0], \
	"promptsync-checkout.pth").write_text(str(pathlib.Path.cwd()) + "\n")
# setuptools prints a 9-line "!! Editable installation … folders with the same name as your
# package" box at every editable install: ON_PATH above is the answer to it, so keep it quiet.
QUIET_EDITABLE := PYTHONWARNINGS="ignore:Editable installation"

.PHONY: dev test suite smoke demo lint bench clean

$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "promptsync needs Python 3.11 or newer (PY=$(PY))"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(QUIET_EDITABLE) $(BIN)/python -m pip install -q -e .
	$(BIN)/python -c '$(ON_PATH)'
	@touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(QUIET_EDITABLE) $(BIN)/python -m pip install -q -e '.[test]'
	@touch $(TEST_STAMP)

# Ctrl-C stops dev (exit 130) with its own one line, and make must add nothing: make prints
# "Error 130" for a recipe that exits 130, or "Interrupt" for a shell killed by SIGINT (dash is
# when it got the Ctrl-C too, unless trapped). The trap covers a Ctrl-C the shell got (typed on
# the terminal); `|| [ $? -eq 130 ]` covers a SIGINT dev alone got (kill -INT <pid>).
dev: $(STAMP)  ## install the product, then run the local stack on the example prompts/
	@trap 'exit 0' INT; $(BIN)/promptsync dev || [ $$? -eq 130 ]

test: $(TEST_STAMP)  ## install with the test tools, then lint and run the whole suite side by side (Postgres tests skip outside CI if it is down)
	@$(MAKE) --no-print-directory -j2 -Oline lint suite

# The suite leaves about a quarter of two cores idle (tests wait on servers, timeouts and
# debounces), so lint runs beside it, not before it: make test ends ~15 s sooner. Either
# failing fails make test; -Oline keeps their lines whole.
suite: $(TEST_STAMP)  ## the whole suite alone
	$(BIN)/pytest -n auto

# Given the module's path: collecting the whole suite to deselect it would cost seconds; and
# without the fuzzing plugins it never uses, whose import alone takes a second or more.
smoke: $(TEST_STAMP)  ## install, then only the first-minute flow against a real server (under 10 s)
	$(BIN)/pytest -m smoke -p no:schemathesis -p no:hypothesispytest -p no:anyio \
		tests/system/test_smoke.py

$(DEMO_STAMP): $(STAMP)
	$(QUIET_EDITABLE) $(BIN)/python -m pip install -q -e '.[demo]'
	@touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)  ## regenerate docs/demo.gif: promptsync dev on a copy of prompts/, Chromium, curl, vim
	$(BIN)/python -m tools.demo docs/demo.gif

lint: $(TEST_STAMP)  ## ruff, mypy, and the import contracts of setup.cfg (layers point down)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: $(TEST_STAMP)  ## figures for docs/BENCHMARKS.md
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
