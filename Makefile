# One venv, made on first use; everything else runs inside it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

# Set-up is quiet unless it fails: pip's output goes to a log that is shown only then.
SETUP_LOG := $(VENV)/setup.log
PIP := $(BIN)/python -m pip --disable-pip-version-check --no-input -q -q

$(BIN)/cnisim: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "cnisim needs Python 3.11+"'
	@echo "setting up $(VENV) (about a minute, once)..." >&2
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) install --upgrade pip > $(SETUP_LOG) 2>&1 || { cat $(SETUP_LOG) >&2; exit 1; }
	@$(PIP) install -e '.[dev]' >> $(SETUP_LOG) 2>&1 || { cat $(SETUP_LOG) >&2; exit 1; }
	@touch $@

## run: set up, then answer the first question every EKS user asks
run: $(BIN)/cnisim
	@$(BIN)/cnisim maxpods t3.large

## test: set up, then lint, type-check, run the tests and run every benchmark once
test: $(BIN)/cnisim lint
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pytest -q benchmarks --benchmark-disable

lint: $(BIN)/cnisim
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## bench: the benchmarks with their timings (figures for the closing note)
bench: $(BIN)/cnisim
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-columns=min,median,mean,max,rounds

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis .benchmarks
