"""Training step time of demo algorithms, measured side by side.

For each pair ``A:B`` both models are built from their demo configs and fed
the same pre-loaded Fashion-MNIST batches; timing alternates A and B within
each repeat, so machine noise hits both alike. Prints the median step time
of each and the ratio A/B (median over repeats of the per-repeat ratios).
Data loading is excluded: the pair differs only in the model.

Example::

    python tools/benchmarks/step_time.py --pairs nnclr:simclr snclr:mocov3
"""
import argparse
import os.path as osp
import statistics
import sys
import time
from typing import Dict, List

import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools'))
from demo import CONFIGS  # noqa: E402

import nnclr_plugin  # noqa: E402,F401
from nnclr_plugin.engine.hooks import find_queues  # noqa: E402
from mmpretrain.registry import MODELS  # noqa: E402


class Trainer:
    """A demo model, its optimiser and its queues, stepped by hand."""

    def __init__(self, algo: str, data_root: str) -> None:
        cfg = Config.fromfile(CONFIGS[algo])
        # Momentum schedules (CosineEMA) read the run length from the hub,
        # which a Runner would fill in.
        MessageHub.get_current_instance().update_info(
            'max_iters', cfg.train_cfg.max_iters)
        torch.manual_seed(0)
        self.model = MODELS.build(cfg.model).train()
        self.optim = build_optim_wrapper(self.model, cfg.optim_wrapper)
        self.queues = [q for _, q in find_queues(self.model)]
        for queue in self.queues:
            queue.manage_manually()
        self.cfg = cfg

    def step(self, batch: dict) -> None:
        self.model.train_step(batch, self.optim)
        for queue in self.queues:
            queue.flush()


def load_batches(cfg: Config, data_root: str, n: int) -> List[dict]:
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.dataset.data_root = data_root
    loader_cfg.num_workers = 0
    loader_cfg.persistent_workers = False
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) == n:
            return batches
    return batches


def time_steps(trainer: Trainer, batches: List[dict]) -> float:
    start = time.perf_counter()
    for batch in batches:
        trainer.step(batch)
    return (time.perf_counter() - start) / len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--pairs', nargs='+', default=['nnclr:simclr'],
                        help='A:B pairs of demo names')
    parser.add_argument('--steps', type=int, default=10,
                        help='steps per timing')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=40,
                        help='untimed steps first (fills the 4096-row '
                        'support sets at batch 128 in 32 steps)')
    parser.add_argument(
        '--data-root', default=osp.join(REPO, 'data', 'fashion_mnist'))
    args = parser.parse_args()
    init_default_scope('mmpretrain')

    for pair in args.pairs:
        a, b = pair.split(':')
        trainers: Dict[str, Trainer] = {
            name: Trainer(name, args.data_root)
            for name in (a, b)
        }
        batches = load_batches(trainers[a].cfg, args.data_root, args.steps)
        for trainer in trainers.values():
            for i in range(args.warmup):
                trainer.step(batches[i % len(batches)])
        times: Dict[str, List[float]] = {a: [], b: []}
        for _ in range(args.repeats):
            for name in (a, b):
                times[name].append(time_steps(trainers[name], batches))
        ratios = [ta / tb for ta, tb in zip(times[a], times[b])]
        print(f'{a}: {statistics.median(times[a]) * 1000:.0f} ms/step  '
              f'{b}: {statistics.median(times[b]) * 1000:.0f} ms/step  '
              f'{a}/{b} = {statistics.median(ratios):.3f} '
              f'(median of {args.repeats} x {args.steps} steps, batch '
              f'{trainers[a].cfg.train_dataloader.batch_size}, '
              f'{torch.get_num_threads()} threads)', flush=True)


if __name__ == '__main__':
    main()
