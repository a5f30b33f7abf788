"""Quality benchmark on Fashion-MNIST: what NN and soft-neighbour positives
buy.

Trains every (method, seed, variant) of the campaign through the normal
Runner (``tools/train.py`` on a ``configs/bench/`` config, in a subprocess,
one at a time), reads the curve and final figures the ``KNNEvalHook``
writes, and keeps a ``result.json`` per run: a run with one is skipped on
the next call, so the campaign can span sessions. ``--report`` (also done
after every run) turns all results into ``docs/benchmarks.md`` and PNG
plots, never by hand. The groups of runs are listed in
``quality_bench/plan.py``; the code is the package ``quality_bench``.

Examples::

    python tools/benchmarks/quality.py                    # whole campaign
    python tools/benchmarks/quality.py --groups main --seeds 0
    python tools/benchmarks/quality.py --report           # docs only
    python tools/benchmarks/quality.py --quick            # <= 5 min check
"""
import os.path as osp
import sys

if __name__ == '__main__':
    # Run as a script, only this folder is on sys.path; the package is
    # imported as ``tools.benchmarks.quality_bench`` from the repository.
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))
    from tools.benchmarks.quality_bench.cli import main
    main()
