# One task runner for local work and CI. `make run` and `make test` work on a fresh machine
# with Python 3.11+ and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

# Test processes for `make test` (pytest-xdist): 2 suits a 2-core machine like CI's, where most
# tests wait on sockets, subprocesses and the browser rather than on the CPU.
TEST_WORKERS ?= 2

.PHONY: setup run test fuzz chaos lint check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## Seed the demo blog into an empty database (prints a fresh API token each time), then serve.
run: setup
	$(BIN)/liveblog demo --host $(HOST) --port $(PORT)
	$(BIN)/liveblog serve --host $(HOST) --port $(PORT)

## The whole test suite but the long runs (browser tests need Debian's chromium; PostgreSQL
## tests need a server). Each file's tests stay in one worker (--dist loadfile): module fixtures
## are built once.
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## The long runs, kept out of `make test`: seeded request fuzzing over many seeds and both
## backends (fuzz), and fault injection such as kill -9 loops (chaos, one test at a time so the
## kills are the only disturbance). pytest's exit 5 (no test carries the marker) is no failure.
fuzz: setup
	$(BIN)/python -m pytest -m fuzz -n $(TEST_WORKERS) $(PYTEST_ARGS) || [ $$? -eq 5 ]

chaos: setup
	$(BIN)/python -m pytest -m chaos $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: setup
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy

## Fan-out (1k, 5k, 10k readers; liveblog and nginx+nchan interleaved), publish, the server
## protocol's two seams, page, catch-up (and the 10,000-reader restart), slow-reader and cluster
## benchmarks, then docs/benchmarks.md. Quick look: make bench BENCH_ARGS="--readers 1000 --runs 1"
## SEAM_ARGS="--readers 1000 --runs 1" CATCHUP_ARGS="--runs 1 --log-gap 0 --restart-readers 0"
## SLOW_ARGS="--runs 1 --no-stall"
bench: setup
	@status=0; \
	$(BIN)/python -m bench.fanout fanout $(BENCH_ARGS) || status=1; \
	$(BIN)/python -m bench.fanout publish $(BENCH_ARGS) || status=1; \
	$(BIN)/python -m bench.seam $(SEAM_ARGS) || status=1; \
	$(BIN)/python -m bench.page || status=1; \
	$(BIN)/python -m bench.catchup $(CATCHUP_ARGS) || status=1; \
	$(BIN)/python -m bench.slow $(SLOW_ARGS) || status=1; \
	$(BIN)/python -m bench.cluster $(CLUSTER_ARGS) || status=1; \
	$(BIN)/python -m bench.media || status=1; \
	$(BIN)/python -m bench.outbox || status=1; \
	$(BIN)/python -m bench.report || status=1; \
	exit $$status

check: lint test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
