"""The repository's scripts. A package so that the benchmark package
``tools.benchmarks.quality_bench`` imports from the repository root; the
scripts themselves still run as ``python tools/<path>.py``."""
