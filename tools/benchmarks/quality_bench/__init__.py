"""Quality benchmark on Fashion-MNIST: what NN and soft-neighbour positives
buy. Run it with ``python tools/benchmarks/quality.py`` (see there).

One concept per module; each imports only those above it in this list,
so there is no cycle (checked by
``tests/tools/benchmarks/test_quality_benchmark.py``):

* ``plan``: the campaign's runs, budgets and overrides (no I/O).
* ``results``: the stored ``<key>.json`` of finished runs.
* ``runner``: trains one run through ``tools/train.py`` (plan, results).
* ``baselines``: raw pixels and a random-init backbone, measured once and
  cached; the only module that builds a model.
* ``cells``: picks runs and formats table cells.
* ``figures``: the PNG figures (cells, results).
* ``summary``, ``ablations``: the report's sections, results in and
  markdown lines out (cells; ablations also plan).
* ``report``: puts the sections together and writes them (summary,
  ablations, figures).
* ``cli``: the command line (all of the above).

``..benchmark_docs`` (the page's section writer) is shared with the other
benchmark scripts. Nothing here edits ``sys.path``.
"""
