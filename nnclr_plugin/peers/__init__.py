"""Other libraries' implementations, wrapped to train through our Runner
configs for side-by-side benchmarks. Not imported by ``nnclr_plugin``:
a config names the module in ``custom_imports``, and only then is the
other library (an optional benchmark dependency) needed."""
