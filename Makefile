# Precog's single entry point. Every target creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST := $(BIN)/python -m pytest

.PHONY: install run test test-repeat test-fast gate report mutation hooks lint clean bench

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# uv resolves and installs in parallel: ~8 s instead of pip's ~60 s on a fresh clone.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e '.[dev]'
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

## test: every test of every type, then the gate (scripts/run_tests.py: the same entry point
## as CI and the pre-push hook; the gate runs and prints the matrix even when a phase fails)
test: install
	$(BIN)/python scripts/run_tests.py

## test-repeat N=5 [CONTENTION=1]: N full runs, listing every test whose outcome changed
N ?= 5
test-repeat: install
	$(BIN)/python scripts/run_tests.py --repeat $(N) $(if $(CONTENTION),--contention)

gate: install
	$(BIN)/python scripts/audit_test_type_coverage.py --strict --slowest 10 --report build/phase-completion-report.md

## report: the phase completion report from the records of the last `make test` run
report: install
	$(BIN)/python scripts/audit_test_type_coverage.py --strict --slowest 10 --report docs/reports/PHASE_1_9_COMPLETION.md

## mutation [MODULE=name]: mutmut over the core, one target at a time under nice -n 19
## (scripts/mutation.py); scores go to docs/reports/mutation_scores.json
MODULE ?=
mutation: install
	$(BIN)/python scripts/mutation.py $(if $(MODULE),--module $(MODULE))

## hooks: install the pre-push hook (runs `make test`; a failure stops the push)
hooks:
	sh scripts/install_hooks

## test-fast: unit + property only
test-fast: install
	$(PYTEST) -n 2 tests/unit tests/property

## bench [BENCH="NAME..."] [BENCH_ARGS=--quick]: the benchmark suite (precog bench), niced because
## the machine is shared; results are appended to benchmarks/results/history.jsonl
bench: install
	nice -n 19 $(BIN)/precog bench $(BENCH) $(BENCH_ARGS)

## lint: ruff + mypy --strict on src
lint: install
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks
	$(BIN)/mypy --strict src

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .hypothesis .benchmarks
