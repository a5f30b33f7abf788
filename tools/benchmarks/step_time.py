"""Training step time at paper-size support sets, measured side by side.

Each case pairs an algorithm with its baseline (NNCLR / SimCLR, SNCLR /
MoCo v3, ours / lightly's NNCLR), builds both from the quality-benchmark
configs (``configs/bench/``) and feeds them the same synthetic batches
through their own data preprocessor (the views are made in the step, as in
training), new images every step. The support sets are filled with random
unit rows first, so a paper-size queue is searched from the first timed
step; the lookup's cost does not depend on what the rows hold. Timing
alternates
the two models within each repeat, so machine noise hits both alike; the
ratio is the median of the per-repeat ratios.

Two model sizes:

* ``bench``: the quality benchmark's ResNet-18 (quarter width), 28 px,
  batch 256, 128-d projections.
* ``r50``: ResNet-50 at 64 px, batch 32, 2048-wide MLPs and 256-d
  projections (the papers' projection size on small inputs).

The share of the step spent on the support set (``nearest`` and the
enqueue after the step) and in the loss module's forward is timed inside
the same steps.

``--checkpoint CASE=PATH`` times a bench-scale case from a training state
instead: A's weights, optimiser state and full support set from a
checkpoint of its bench config trained at the case's memory size, and
real Fashion-MNIST training images for both models.

Writes ``docs/results/speed/step_time.json`` and the ``step-time`` section of
``docs/benchmarks.md``.

Examples::

    python tools/benchmarks/step_time.py                   # every case
    python tools/benchmarks/step_time.py --cases snclr:mocov3@128000 --update
    python tools/benchmarks/step_time.py --cases nnclr:simclr@98304 \\
        --scales bench --no-docs
    python tools/benchmarks/step_time.py --cases nnclr:simclr@98304 \\
        --scales bench --update --checkpoint \\
        nnclr:simclr@98304=work_dirs/nnclr_98304/iter_500.pth   # trained A
"""
import argparse
import json
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional

import torch
from benchmark_docs import DOCS, REPO, machine_kind, write_section
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.dist import get_world_size
from mmengine.logging import MessageHub, MMLogger
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample

from nnclr_plugin.engine.hooks import find_queues
from nnclr_plugin.evaluation import write_json
from nnclr_plugin.utils.checkpoint_files import read_checkpoint

BENCH = osp.join(REPO, 'configs', 'bench',
                 '{}_resnet18-c16_1xb256-coslr-1000it_fashion-mnist.py')
# name: (image size, batch size)
SCALES = {'bench': (28, 256), 'r50': (64, 32)}
# The papers' memories: NNCLR 98,304 rows (65,536 in its ablation), SNCLR
# 128,000 rows and K = 30 candidates.
CASES = ['nnclr:simclr@65536', 'nnclr:simclr@98304',
         'snclr:mocov3@128000', 'nnclr:lightly-nnclr@98304']
GOAL_SHARE = 0.03  # NN overhead at the paper sizes
COMMAND = 'python tools/benchmarks/step_time.py'


def widen_to_r50(model: dict) -> dict:
    """ResNet-50 backbone, 2048-wide MLPs, 256-d projections."""

    def walk(node):
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key in ('in_channels', 'out_channels', 'feat_dim',
                           'embed_dims') and value == 128:
                    value = 256
                out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    model = walk(model)
    model['backbone'] = dict(type='ResNet', depth=50, in_channels=1)
    model['neck']['in_channels'] = 2048
    model['neck']['hid_channels'] = 2048
    model['data_preprocessor']['crop_size'] = SCALES['r50'][0]
    return model


class Trainer:
    """A bench model, its optimiser and its queues, stepped by hand.

    Args:
        algo (str): Name of a ``configs/bench/`` config.
        scale (str): Key of :data:`SCALES`.
        memory (int): Rows of the support set / memory bank.
    """

    def __init__(self, algo: str, scale: str, memory: int,
                 checkpoint: Optional[str] = None) -> None:
        cfg = Config.fromfile(BENCH.format(algo))
        self.cfg = cfg
        if cfg.get('custom_imports'):
            import_modules_from_strings(**cfg.custom_imports)
        model = cfg.model.to_dict()
        if 'memory_size' in model:  # lightly's peer
            model['memory_size'] = memory
        elif 'queue' in model.get('head', {}):
            model['head']['queue']['size'] = memory
        if scale == 'r50':
            model = widen_to_r50(model)
        # Momentum schedules (CosineEMA) read the run length from the hub,
        # which a Runner would fill in.
        MessageHub.get_current_instance().update_info(
            'max_iters', cfg.train_cfg.max_iters)
        torch.manual_seed(0)
        # SyncBN (the GPU configs' choice) is plain BN in one process and
        # cannot run under CPU DDP (process_scaling.py).
        self.model = revert_sync_batchnorm(MODELS.build(model)).train()
        self.optim = build_optim_wrapper(self.model, cfg.optim_wrapper)
        self.queues = [q for _, q in find_queues(self.model)]
        self.iteration: Optional[int] = None  # of a loaded checkpoint
        if checkpoint is not None:
            self._load(checkpoint, algo, memory)
        else:
            for queue in self.queues:
                # Each rank's rows are gathered: fill with world-size
                # chunks.
                chunk = max(1, min(8192, queue.size) // get_world_size())
                for _ in range(-(-queue.size //
                                 (chunk * get_world_size()))):
                    queue.enqueue(torch.randn(chunk, queue.feat_dim))
        self.timers: Dict[str, float] = {'lookup': 0.0, 'loss': 0.0}
        for queue in self.queues:
            queue.nearest = self._timed('lookup', queue.nearest)
            # The enqueue of the rows the step stashed (end_step).
            queue.enqueue = self._timed('lookup', queue.enqueue)
        head = getattr(self.model, 'head', None)
        loss_module = getattr(head, 'loss_module', None) or getattr(
            self.model, 'criterion', None)
        if loss_module is not None:
            loss_module.forward = self._timed('loss', loss_module.forward)
        memory_bank = getattr(self.model, 'memory', None)
        if memory_bank is not None:  # lightly's lookup + update
            memory_bank.forward = self._timed('lookup', memory_bank.forward)

    def _load(self, path: str, algo: str, memory: int) -> None:
        """Weights, optimiser state (lr, momenta) and support set of a
        training run of the same bench config at this memory size."""
        state = read_checkpoint(path, f'step_time.py --checkpoint {algo}')
        sizes = [v.shape[0] for k, v in state['state_dict'].items()
                 if k.endswith('queue.queue')]
        if sizes != [memory] * len(self.queues):
            raise ValueError(
                f'--checkpoint {path}: its support sets hold {sizes} rows, '
                f'the case asks for {memory}; train configs/bench/{algo}_* '
                f'with --cfg-options model.head.queue.size={memory}')
        self.model.load_state_dict(state['state_dict'])
        self.optim.load_state_dict(state['optimizer'])
        self.iteration = state['meta'].get('iter')

    def _timed(self, name: str, fn: Callable) -> Callable:

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            self.timers[name] += time.perf_counter() - start
            return out

        return wrapper

    def step(self, batch: dict) -> None:
        for queue in self.queues:  # as SupportSetQueueHook does
            queue.begin_step()
        self.model.train_step(batch, self.optim)
        for queue in self.queues:
            queue.end_step()


def synthetic_batches(scale: str, n: int) -> List[dict]:
    """``n`` single-view uint8 batches with labels, fixed by a seed."""
    size, batch = SCALES[scale]
    gen = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(n):
        images = torch.randint(0, 256, (batch, 1, size, size),
                               dtype=torch.uint8, generator=gen)
        labels = torch.randint(0, 10, (batch, ), generator=gen)
        samples = [DataSample().set_gt_label(int(lb)) for lb in labels]
        batches.append(dict(inputs=images, data_samples=samples))
    return batches


def real_batches(cfg: Config, n: int) -> List[dict]:
    """``n`` batches of Fashion-MNIST training images (the bench config's
    dataset and collate), in a seeded order."""
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = cfg.train_dataloader.batch_size
    order = torch.randperm(len(dataset),
                           generator=torch.Generator().manual_seed(0))
    return [default_collate([dataset[int(i)]
                             for i in order[j * batch:(j + 1) * batch]])
            for j in range(n)]


def time_case(case: str, scale: str, steps: int, repeats: int,
              warmup: int, checkpoint: Optional[str] = None) -> Dict:
    """Median step times of a pair, their ratio and the NN shares.

    With ``checkpoint`` (bench scale only), A starts from that training
    state and both models get real Fashion-MNIST images; else both are
    untrained and get noise images.
    """
    pair, memory = case.split('@')
    a, b = pair.split(':')
    trainers = {name: Trainer(name, scale, int(memory),
                              checkpoint if name == a else None)
                for name in (a, b)}
    # Every step its own images: a support set never holds the same image
    # twice in real runs (98,304 rows of 1.28M images).
    batches = synthetic_batches(scale, warmup + repeats * steps) \
        if checkpoint is None else \
        real_batches(trainers[a].cfg, warmup + repeats * steps)
    for trainer in trainers.values():
        for i in range(warmup):
            trainer.step(batches[i])
        trainer.timers = dict.fromkeys(trainer.timers, 0.0)
    times: Dict[str, List[float]] = {a: [], b: []}
    for rep in range(repeats):
        for name, trainer in trainers.items():
            start = time.perf_counter()
            for batch in batches[warmup + rep * steps:][:steps]:
                trainer.step(batch)
            times[name].append((time.perf_counter() - start) / steps)
    ratios = [ta / tb for ta, tb in zip(times[a], times[b])]
    total = {n: sum(t) * steps for n, t in times.items()}
    return dict(
        case=case, scale=scale, a=a, b=b, memory=int(memory),
        batch=SCALES[scale][1], image=SCALES[scale][0],
        a_ms=statistics.median(times[a]) * 1000,
        b_ms=statistics.median(times[b]) * 1000,
        ratio=statistics.median(ratios),
        lookup_share=trainers[a].timers['lookup'] / total[a],
        loss_share=trainers[a].timers['loss'] / total[a],
        b_lookup_share=trainers[b].timers['lookup'] / total[b],
        b_loss_share=trainers[b].timers['loss'] / total[b],
        state=('untrained' if checkpoint is None else
               f'trained (iter {trainers[a].iteration})'),
        checkpoint=checkpoint)


def render(report: Dict) -> str:
    lines = [
        '## Training step time at paper-size support sets', '',
        f'Machine: {report["machine"]}. Median of {report["repeats"]} x '
        f'{report["steps"]} steps per model, the pair alternated; views '
        'made in the step. State `untrained`: both networks at their '
        'initialisation, noise images, support sets filled with random '
        'unit rows before timing (the lookup\'s cost does not depend on '
        'the rows). State `trained`: A starts from the '
        'weights, optimiser state and full support set of a checkpoint of '
        'its bench config trained at that memory size (`tools/train.py '
        'configs/bench/<A>_... --cfg-options model.head.queue.size=<memory>`'
        '; the file in the row\'s `checkpoint`), and both models get '
        'Fashion-MNIST training images, as in training. `support set` and '
        '`loss` are the shares of the step spent in the support-set '
        'search + enqueue and in the loss module\'s forward (its backward '
        'is in the rest of the step); A/B also counts the other '
        'differences of the pair (NNCLR\'s predictor and 3-layer '
        'projector). Command: '
        f'`{report["command"]}`.', '',
        f'Goal: NN overhead (the support-set share of the NNCLR step) <= '
        f'{GOAL_SHARE:.0%} at the paper sizes; ours >= 1.0x lightly\'s '
        'speed.', '',
        '| model | A / B | memory | state | A ms | B ms | A/B | '
        'A support set | A loss | B loss | goal |',
        '|---|---|---|---|---|---|---|---|---|---|---|']
    for r in report['rows']:
        goal = '—'
        if (r['a'], r['b']) == ('nnclr', 'simclr'):
            goal = 'met' if r['lookup_share'] <= GOAL_SHARE else 'NOT met'
        elif r['b'] == 'lightly-nnclr':
            goal = 'met (>= 1.0x)' if r['ratio'] <= 1.0 else 'NOT met'
        lines.append(
            f'| {r["scale"]} ({r["image"]} px, batch {r["batch"]}) | '
            f'{r["a"]} / {r["b"]} | {r["memory"]:,} | '
            f'{r.get("state", "untrained")} | '
            f'{r["a_ms"]:.0f} | {r["b_ms"]:.0f} | {r["ratio"]:.3f} | '
            f'{r["lookup_share"]:.1%} | {r["loss_share"]:.1%} | '
            f'{r["b_loss_share"]:.1%} | {goal} |')
    lines.append('')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cases', nargs='+', default=CASES,
                        help='A:B@MEMORY, names of configs/bench/ configs')
    parser.add_argument('--scales', nargs='+', default=list(SCALES),
                        choices=list(SCALES))
    parser.add_argument('--steps', type=int, default=3,
                        help='steps per timing')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument(
        '--checkpoint', nargs='+', default=[], metavar='CASE=PATH',
        help='time CASE (bench scale) from the weights, optimiser state '
        'and support set of PATH, a checkpoint of A\'s bench config '
        'trained at that memory size, on Fashion-MNIST images')
    parser.add_argument('--out', default=osp.join(DOCS, 'results', 'speed',
                                                  'step_time.json'))
    parser.add_argument('--no-docs', action='store_true',
                        help='print only; leave docs/ as it is')
    parser.add_argument('--update', action='store_true',
                        help='re-measure only the given cases and scales of '
                        '--out, keep its other rows')
    args = parser.parse_args(argv)
    checkpoints = dict(c.split('=', 1) for c in args.checkpoint)
    unknown = set(checkpoints) - set(args.cases)
    if unknown:
        parser.error(f'--checkpoint for {sorted(unknown)}, which --cases '
                     'does not time')
    init_default_scope('mmpretrain')
    MMLogger.get_current_instance().setLevel('WARNING')  # no paramwise dump
    import nnclr_plugin  # noqa: F401  (registers the components)

    def trained(case: str, scale: str) -> bool:
        return scale == 'bench' and case in checkpoints

    rows, command = [], ' '.join([COMMAND] + sys.argv[1:])
    if args.update and osp.isfile(args.out):
        with open(args.out) as f:
            old = json.load(f)
        redo = {(c, s, trained(c, s)) for c in args.cases
                for s in args.scales}
        rows = [r for r in old['rows']
                if (r['case'], r['scale'],
                    r.get('state', 'untrained') != 'untrained') not in redo]
        # A repeated command replaces its earlier mention.
        previous = [c for c in old['command'].split(', then ')
                    if c != command]
        command = ', then '.join(previous + [command])
    for scale in args.scales:
        for case in args.cases:
            r = time_case(case, scale, args.steps, args.repeats,
                          args.warmup,
                          checkpoints.get(case) if trained(case, scale)
                          else None)
            rows.append(r)
            print(f'{scale:>5} {case:>26}: {r["a"]} {r["a_ms"]:.0f} ms, '
                  f'{r["b"]} {r["b_ms"]:.0f} ms, ratio {r["ratio"]:.3f}, '
                  f'lookup {r["lookup_share"]:.1%}, loss '
                  f'{r["loss_share"]:.1%} of the step', flush=True)
    # Rows in the default order, whichever run measured them.
    order = [(c, s) for s in SCALES for c in CASES]
    rows.sort(key=lambda r: (order.index((r['case'], r['scale']))
                             if (r['case'], r['scale']) in order
                             else len(order),
                             r.get('state', 'untrained') != 'untrained'))
    report = dict(command=command,
                  machine=machine_kind(), steps=args.steps,
                  repeats=args.repeats, rows=rows)
    if not args.no_docs:
        write_json(args.out, report)
        print('wrote', args.out,
              write_section('step-time', render(report)))
    return report


if __name__ == '__main__':
    main()
