# The two commands of the README: `make run` (demo platform) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PG_URL ?= postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/postgres
# Tests run in parallel (pytest-xdist), a test file per worker: most of their time is
# spent waiting on sockets, so more workers than the 2 cores pay.
PYTEST_WORKERS ?= 4
PYTEST := $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile

.PHONY: fuzz run test setup system web lint test-sqlite test-pg bench clean

$(BIN)/sharpeyes: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/sharpeyes

# The web console (web/, Vue 3 + Vite): npm ci when the lock file changes, a build
# when any source changes; the node serves web/dist at /.
WEB_SRC := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.js

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SRC)
	cd web && npm run build
	touch $@

web: web/dist/index.html

system:
	bash scripts/setup-system.sh

run: setup web
	$(BIN)/sharpeyes demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test-sqlite: setup
	$(PYTEST)

test-pg: setup
	SHARPEYES_TEST_PG=$(PG_URL) $(PYTEST) -m db

test: system setup web lint test-sqlite test-pg

bench: setup
	$(BIN)/python bench/signalling.py

FUZZ_SECONDS ?= 600
fuzz: setup  # long coverage-guided run of every parser (docs/ops.md); CI runs tests/fuzz only
	for t in sip sdp manscdp rtp ps ts mansrtsp; do \
	  PYTHONPATH=. $(BIN)/python -m tests.fuzz.run_atheris $$t -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=65536 -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache data web/node_modules web/dist artifacts
