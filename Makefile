# Precog's single entry point. Every target creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RECORDS := build/test-records
PYTEST := $(BIN)/python -m pytest

.PHONY: install run test test-fast test-parallel test-serial gate lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## run: the main job (see README): the collection service for RUN_SECONDS, then one history.
# Embedded PostgreSQL (migrated on first use) + the in-process sandbox exchange; the service
# prints its summary when it stops, then the liveliest market's stored versions and chart.
RUN_SECONDS ?= 60
run: install
	$(BIN)/precog run --duration $(RUN_SECONDS)
	mkdir -p build
	$(BIN)/precog markets history --plot build/market-history.png

## test: every test of every type, then the gate
test: install
	rm -rf $(RECORDS)
	$(MAKE) --no-print-directory test-parallel test-serial gate

# Types that tolerate a shared machine run on both cores.
test-parallel: install
	$(PYTEST) -n 2 --dist loadfile tests/unit tests/property tests/integration tests/e2e tests/chaos

# Types that need a quiet machine (load, timing ratios, interleavings) run alone.
test-serial: install
	$(PYTEST) -p no:xdist tests/stress tests/race tests/performance \
		--benchmark-json=build/benchmark-results.json --benchmark-columns=median,iqr,rounds,iterations

gate: install
	$(BIN)/python scripts/audit_test_type_coverage.py --strict --report build/phase-completion-report.md

## test-fast: unit + property only
test-fast: install
	$(PYTEST) -n 2 tests/unit tests/property

## lint: ruff + mypy --strict on src
lint: install
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks
	$(BIN)/mypy --strict src

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .hypothesis .benchmarks
