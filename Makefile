# Quick start: `make run` serves Klyuch on the embedded defaults; `make test` runs the test suite.
# Both set up everything first (system packages, .venv, dependencies) via scripts/bootstrap.sh.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test lint bench-floor clean

setup:
	@bash scripts/bootstrap.sh

run: setup
	$(BIN)/klyuch serve

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench-floor: setup
	$(BIN)/klyuch bench floor

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
