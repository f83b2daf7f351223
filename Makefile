# The two README commands are `make run` and `make test`; both bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= ./flyq-data
LISTEN ?= 127.0.0.1:9092

# `make test` is what CI runs: the whole suite with the long parts bounded (200 examples per
# state machine, 1,000 crash states, a few real kills). `make test-full` and `make crash` run them
# in full.
CI_BOUNDS := HYPOTHESIS_PROFILE=ci FLYQ_CRASH_STATES=1000 FLYQ_KILL_RUNS=8

.PHONY: run test test-full lint typecheck contracts crash bench mutation clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/flyq broker --data-dir $(DATA_DIR) --listen $(LISTEN)

lint: $(STAMP)
	$(BIN)/ruff check flyq tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/python scripts/check_contracts.py

test: lint typecheck contracts
	$(CI_BOUNDS) $(BIN)/pytest -q

test-full: lint typecheck contracts
	HYPOTHESIS_PROFILE=dev $(BIN)/pytest -q --run-slow

crash: $(STAMP)
	$(BIN)/pytest -m crash -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# Mutation testing, one shard per module group ([tool.mutmut.shards.*] in pyproject.toml), e.g.
# `make mutation MUTATE="flyq/impl/topic.py --max-children 1"`; by default every shard.
MUTATE ?=
mutation: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,mutation]'
	$(BIN)/python scripts/mutation.py $(MUTATE)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis mutants build/mutation
