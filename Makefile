# The two commands of the README: `make run` (demo platform) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PG_URL ?= postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/postgres

.PHONY: run test setup system lint test-sqlite test-pg bench clean

$(BIN)/sharpeyes: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/sharpeyes

system:
	bash scripts/setup-system.sh

run: setup
	$(BIN)/sharpeyes demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test-sqlite: setup
	$(BIN)/pytest -q

test-pg: setup
	SHARPEYES_TEST_PG=$(PG_URL) $(BIN)/pytest -q -m db

test: system setup lint test-sqlite test-pg

bench: setup
	$(BIN)/python bench/signalling.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache data
