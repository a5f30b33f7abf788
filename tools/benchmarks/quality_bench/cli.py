"""The command line of the quality benchmark (``tools/benchmarks/quality.py``).

Runs the chosen part of the plan one run at a time, skipping runs whose
result is stored, and rewrites the report after every run (``--report``:
only the report). ``--quick`` is a few-minute check that keeps its
results in its own work root and writes no docs.
"""
import argparse
import os.path as osp
from typing import Dict, List, Tuple

from ..benchmark_docs import REPO, machine_kind
from . import baselines
from .plan import (
    BENCH,
    BUDGET,
    GPU_FACTOR,
    GROUPS,
    campaign,
    run_spec,
    with_budget,
)
from .report import write_report
from .results import RESULTS, RESULTS_GPU, load_results, sync_results
from .runner import execute


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Fashion-MNIST quality benchmark (resumable campaign)')
    parser.add_argument('--groups', nargs='+', default=list(GROUPS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--methods', nargs='+', default=None,
                        help='only runs of these methods')
    parser.add_argument('--variants', nargs='+', default=None,
                        help='only runs of these variants (e.g. default '
                        'queue512 scale10)')
    parser.add_argument('--work-root', default=osp.join(
        REPO, 'work_dirs', 'bench'))
    parser.add_argument('--docs', default=osp.join(REPO, 'docs'))
    parser.add_argument('--results', default=None,
                        help='folder of finished runs (tracked in git)')
    parser.add_argument('--report', action='store_true',
                        help='only regenerate docs/benchmarks from results')
    parser.add_argument('--quick', action='store_true',
                        help='one seed, SimCLR and NNCLR, 150 iterations '
                        'on a 10k subset, small kNN sets (<= 5 min)')
    parser.add_argument('--gpu', action='store_true',
                        help=f'the GPU campaign: {GPU_FACTOR}x the budget '
                        '(unless --iters), results kept in '
                        'docs/results/quality_gpu (needs CUDA)')
    parser.add_argument('--iters', type=int, default=None,
                        help='override the budget of every run')
    args = parser.parse_args(argv)
    if args.gpu:
        import torch
        if not torch.cuda.is_available():
            parser.error('--gpu needs a CUDA device; '
                         'torch.cuda.is_available() is False here')
        args.iters = args.iters or GPU_FACTOR * BUDGET
    return args


def select_runs(args: argparse.Namespace, main_dir: str,
                gpu_dir: str) -> Tuple[List[Dict], str, str]:
    """The runs of this call, their work root and their results folder."""
    if args.quick:
        runs = [run_spec('quick', m, 0, iters=args.iters or 150)
                for m in args.methods or ('simclr', 'nnclr')]
        root = osp.join(args.work_root, 'quick')
        results_dir = osp.join(root, 'results')
    else:
        runs = campaign(args.groups, args.seeds)
        if args.iters:
            runs = with_budget(runs, args.iters)
        # GPU runs get their own work root: sync_results copies every
        # finished run under a root into the results folder.
        root = osp.join(args.work_root, 'gpu') if args.gpu else \
            args.work_root
        results_dir = gpu_dir if args.gpu else main_dir
        sync_results(root, results_dir)
    if args.methods:
        runs = [r for r in runs if r['method'] in args.methods]
    if args.variants:
        runs = [r for r in runs if r['variant'] in args.variants]
    return runs, root, results_dir


def main(argv=None) -> None:
    args = parse_args(argv)
    # Finished runs of this call go to ``results_dir``; the report always
    # shows both the CPU campaign and the GPU runs.
    main_dir = RESULTS if args.gpu else (args.results or RESULTS)
    gpu_dir = (args.results or RESULTS_GPU) if args.gpu else RESULTS_GPU

    def report() -> str:
        base = baselines.load_or_measure(osp.join(args.docs, 'results'),
                                         BENCH.format('simclr'))
        return write_report(load_results(main_dir), base, BUDGET, args.docs,
                            args.work_root, load_results(gpu_dir))

    runs, root, results_dir = select_runs(args, main_dir, gpu_dir)
    if not args.report:
        for i, run in enumerate(runs):
            print(f'[{i + 1}/{len(runs)}] {run["key"]} ...', flush=True)
            try:
                result = execute(run, root, args.quick, machine_kind(),
                                 results_dir)
            except RuntimeError as err:
                # One broken run must not stop a campaign of hours.
                print(f'    FAILED: {err}', flush=True)
                continue
            probe = result['probe_top1']
            print(f'    kNN top-1 {result["knn_top1"]:.2f}  probe top-1 '
                  f'{probe if probe is None else round(probe, 2)}  '
                  f'({result["wall_s"]:.0f} s)', flush=True)
            if not args.quick:
                report()
    if args.quick:
        for r in load_results(results_dir):
            print(f'{r["method"]}: kNN top-1 {r["knn_top1"]:.2f} probe '
                  f'{r["probe_top1"]:.2f}')
    else:
        print(f'wrote {report()}')
