# The two commands of the README. Both run the same idempotent set-up first.
#   make demo [ALGO=nnclr|snclr|simclr|mocov3|byol|nn-byol|...]  pretrain on Fashion-MNIST (CPU), kNN, grid
#   make test [PYTEST_ARGS=...] [TEST_JOBS=N]  ruff, then the test suite, one worker per core up to 4 (slow tests: PYTEST_ARGS="-m slow")
#   make lint                             ruff (lint + import order, pyproject.toml) and vermin (Python 3.8 APIs) on the whole tree
#   make test-oldest [PYTEST_ARGS=...]    the same suite on the oldest tested stack (.venv-oldest: Python 3.8, torch 2.1, numpy 1.24)
#   make bench-quality [BENCH_ARGS=...]   the quality benchmark (hours; resumable, see docs/benchmarks.md)
#   make gpu-wheels / make gpu-check      prepare .whl/ here; on a GPU machine (its python3), check the CUDA path
VENV ?= .venv
PY := $(VENV)/bin/python
OLDEST_VENV ?= .venv-oldest
ALGO ?= nnclr
PYTEST_ARGS ?=
BENCH_ARGS ?=
GPU_PY ?= python3
# pytest-xdist workers: one per core, at most 4 (each holds a few models);
# 0 runs the tests in the pytest process itself.
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); if [ $$n -gt 4 ]; then n=4; elif [ $$n -lt 2 ]; then n=0; fi; echo $$n)

.PHONY: setup setup-oldest demo lint test test-oldest data clean bench-quality gpu-wheels gpu-check

setup:
	@bash scripts/setup_env.sh

data: setup

# The demo needs none of mmcv's compiled ops: without a cached full wheel
# it installs mmcv without them (seconds instead of a ~15 min build).
demo:
	@MMCV_OPS=optional bash scripts/setup_env.sh
	@$(PY) tools/demo.py --algo $(ALGO)

# A lint failure fails `make test` (and so CI) before the suite runs.
# vermin: no API newer than Python 3.8, the oldest tested stack's.
lint: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/vermin --target=3.8- --violations --no-tips --quiet \
		--eval-annotations --backport typing_extensions \
		nnclr_plugin tools tests configs setup.py

test: lint
	@$(PY) -m pytest -n $(TEST_JOBS) $(PYTEST_ARGS)

# requirements/lock/oldest.txt in its own venv; NNCLR_OTHER_STACK_PYTHON
# lets the cross-stack checkpoint tests resume on the newest stack what
# the oldest wrote, and the other way round.
setup-oldest:
	@STACK=oldest VENV=$(OLDEST_VENV) bash scripts/setup_env.sh

test-oldest: setup-oldest
	@NNCLR_OTHER_STACK_PYTHON=$(if $(wildcard $(PY)),$(abspath $(PY)),) \
		$(OLDEST_VENV)/bin/python -m pytest -n $(TEST_JOBS) $(PYTEST_ARGS)

bench-quality: setup
	@$(PY) -m pip install -q -r requirements/benchmark.txt
	@$(PY) tools/benchmarks/quality.py $(BENCH_ARGS)

gpu-wheels: setup
	@PY=$(PY) bash scripts/prepare_gpu_wheels.sh

gpu-check:
	@PY=$(GPU_PY) bash scripts/gpu_setup.sh
	@$(GPU_PY) tools/benchmarks/gpu_check.py --out-dir $${OUT:-work_dirs/gpu_check}
	@$(GPU_PY) tools/benchmarks/data_throughput.py --out $${OUT:-work_dirs/gpu_check}/data_throughput.json

clean:
	rm -rf work_dirs .pytest_cache
