# The two README commands: `make run` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= ./flyq-data
# CI runs a bounded version of the long suites; `make test-full` runs them in full.
HYPOTHESIS_PROFILE ?= ci

.PHONY: run test test-full lint typecheck contracts unit bench crash mutation clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m flyq.demo --data-dir $(DATA_DIR)

lint: $(STAMP)
	$(BIN)/ruff check flyq tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/python scripts/check_contracts.py

unit: $(STAMP)
	HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) $(BIN)/pytest -m "not crash or ci_bounded" -q

test: lint typecheck contracts $(STAMP)
	HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) $(BIN)/pytest -q

test-full: $(STAMP)
	HYPOTHESIS_PROFILE=dev $(BIN)/pytest -q --run-slow

crash: $(STAMP)
	$(BIN)/pytest -m crash -q --run-slow

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
