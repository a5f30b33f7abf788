"""`make demo`: pretrain on Fashion-MNIST (CPU), kNN, neighbour grid.

Steps: (1) train the demo config of ``--algo`` with a stock mmengine Runner
(the log prints progress and ETA), (2) weighted kNN top-1/top-5 of the
backbone on a fixed subset of Fashion-MNIST, (3) for algorithms with a
support set, a PNG grid of test images and their support-set neighbours,
(4) a comparison with the figures recorded in ``configs/demo/results.json``.

The demo configs, data and work dirs belong to a checkout of the repository
(``tools/demo.py`` passes its own): the installed package assumes none.
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

# Demos whose model holds a support set get a neighbour grid.
WITH_SUPPORT_SET = ('nnclr', 'snclr', 'nn-byol', 'nn-simsiam', 'nn-mocov3')
# Subsets keep the kNN step to well under a minute on 2 cores.
KNN_TRAIN, KNN_TEST = 10000, 2000


def demo_configs(repo: str) -> Dict[str, str]:
    """Algorithm name (file-name prefix) -> demo config of a checkout; all
    share backbone, data and the 300-iteration schedule."""
    pattern = osp.join(repo, 'configs', 'demo', '*_fashion-mnist.py')
    return {osp.basename(p).split('_')[0]: p
            for p in sorted(glob.glob(pattern))}


def results_file(repo: str) -> str:
    """The recorded figures of every demo (written by
    ``tools/benchmarks/demo_knn.py``)."""
    return osp.join(repo, 'configs', 'demo', 'results.json')


def parse_args(argv: Optional[List[str]], repo: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--algo', choices=sorted(demo_configs(repo)),
                        default='nnclr')
    parser.add_argument('--work-dir', help='default: work_dirs/demo_<algo>')
    parser.add_argument('--iters', type=int, help='override the 300 iters')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--no-grid', action='store_true', help='skip the neighbour grid')
    parser.add_argument(
        '--data-root',
        default=os.environ.get('NNCLR_DATA_ROOT',
                               osp.join(repo, 'data', 'fashion_mnist')))
    return parser.parse_args(argv)


def train(config: str, work_dir: str, args: argparse.Namespace) -> str:
    """Train ``config``; returns the last checkpoint's path."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.train_dataloader.dataset.data_root = args.data_root
    cfg.randomness = dict(seed=args.seed)
    if args.iters:
        cfg.train_cfg.max_iters = args.iters
        cfg.default_hooks.checkpoint.interval = args.iters
        for sched in cfg.param_scheduler:
            sched.end = min(sched.end, args.iters)
            sched.begin = min(sched.begin, args.iters - 1)
            if 'T_max' in sched:
                sched.T_max = max(1, sched.end - sched.begin)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return osp.join(work_dir, f'iter_{runner.iter}.pth')


def report(algo: str, result: Dict, seconds: float, results: str) -> None:
    """Print this run next to the recorded figures of every demo."""
    recorded = {}
    if osp.exists(results):
        with open(results) as f:
            recorded = json.load(f).get('results', {})
    print('\n' + '=' * 64)
    print(f'{algo} demo: kNN top-1 {result["top1"]:.2f}  top-5 '
          f'{result["top5"]:.2f}  (k={result["k"]}, train {KNN_TRAIN}, '
          f'test {KNN_TEST}; {seconds / 60:.1f} min in all)')
    for name, rec in sorted(recorded.items()):
        print(f'  recorded {name:<7} top-1 {rec["top1"]:.2f} '
              f'({rec.get("note", "")})')
    print('=' * 64)


def main(argv: Optional[List[str]], repo: str) -> Dict:
    """Run the demo.

    Args:
        argv (List[str], optional): Command-line arguments without the
            program name; None reads ``sys.argv[1:]``.
        repo (str): The checkout whose ``configs/demo`` and
            ``configs/_base_`` to use; ``data/`` and ``work_dirs/`` default
            to folders in it.

    Returns:
        dict: The kNN result (``top1``, ``top5``, ``k``, ...).
    """
    args = parse_args(argv, repo)
    from nnclr_plugin.apis import knn_eval, visualize_neighbors
    from nnclr_plugin.datasets import LocalFashionMNIST
    from nnclr_plugin.datasets.fashion_mnist import GET_DATA_HINT

    missing = LocalFashionMNIST.missing_files(args.data_root)
    if missing:
        sys.exit(f'Fashion-MNIST not found in {args.data_root} (missing '
                 f'{", ".join(missing)}). {GET_DATA_HINT}')
    start = time.time()
    config = demo_configs(repo)[args.algo]
    data_config = osp.join(repo, 'configs', '_base_', 'datasets',
                           'fashion_mnist_eval.py')
    work_dir = args.work_dir or osp.join(repo, 'work_dirs',
                                         f'demo_{args.algo}')
    print(f'[demo] pretraining {args.algo} on Fashion-MNIST: {config}')
    ckpt = train(config, work_dir, args)

    print(f'[demo] kNN evaluation of {ckpt}')
    result = knn_eval.main([
        config, ckpt, '--data-root', args.data_root, '--max-train',
        str(KNN_TRAIN), '--max-test', str(KNN_TEST), '--out',
        osp.join(work_dir, 'knn.json'), '--data-config', data_config
    ])
    if args.algo in WITH_SUPPORT_SET and not args.no_grid:
        grid = osp.join(work_dir, 'neighbors.png')
        visualize_neighbors.main([
            config, ckpt, '--data-root', args.data_root, '--out', grid,
            '--data-config', data_config
        ])
        print(f'[demo] neighbour grid written to {grid}')
    report(args.algo, result, time.time() - start, results_file(repo))
    return result

