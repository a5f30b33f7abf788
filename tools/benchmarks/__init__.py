"""Benchmark scripts (each run as ``python tools/benchmarks/<name>.py``)
and the quality benchmark's package, ``quality_bench``."""
