# The two commands of the README. Both run the same idempotent set-up first.
#   make demo [ALGO=nnclr|snclr|simclr|mocov3|byol|nn-byol|...]  pretrain on Fashion-MNIST (CPU), kNN, grid
#   make test [PYTEST_ARGS=...]           the test suite (slow tests: PYTEST_ARGS="-m slow")
VENV ?= .venv
PY := $(VENV)/bin/python
ALGO ?= nnclr
PYTEST_ARGS ?=

.PHONY: setup demo test data clean

setup:
	@bash scripts/setup_env.sh

data: setup

demo: setup
	@$(PY) tools/demo.py --algo $(ALGO)

test: setup
	@$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf work_dirs .pytest_cache
