"""NNCLR step time on 1 vs. N gloo processes at the same global batch.

The quality-benchmark NNCLR model (``configs/bench/``) trains on the same
synthetic global batches either in one process with all the threads or in
``N`` DDP processes (gloo, ``MMDistributedDataParallel``) that each take
``1/N`` of the batch and of the threads. The support set is filled first.
A ratio near 1 means DDP costs little beyond the compute it splits; on a
machine with as many cores as threads, ``N`` processes have the same
compute as one.

Also counts the bytes each process sends into collectives per step: the
all-gathers of the support set's new rows (queue) and of the loss's
predictions and positives, and DDP's gradient all-reduce (the model's
gradient size, from its parameters).

Writes ``docs/results/speed/process_scaling.json`` and the
``process-scaling`` section of ``docs/benchmarks.md``.

Example::

    python tools/benchmarks/process_scaling.py --procs 2 --threads 2
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import time
from typing import Dict, List, Optional

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from benchmark_docs import DOCS, machine_kind, write_section
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from step_time import SCALES, Trainer, synthetic_batches

from nnclr_plugin.evaluation import write_json
from nnclr_plugin.utils.dist import CPUDistributedDataParallel

GOAL = 1.2
COMMAND = 'python tools/benchmarks/process_scaling.py'


class CollectiveCounter:
    """Bytes this process passes to ``all_gather`` / ``all_reduce``.

    Args:
        queues (list): Support sets; bytes sent while one of them enqueues
            count as ``queue``, the rest as ``loss``.
    """

    def __init__(self, queues) -> None:
        self.bytes = {'queue': 0, 'loss': 0}
        self._in_queue = False
        self._gather, self._reduce = dist.all_gather, dist.all_reduce
        dist.all_gather = self._counted(self._gather)
        dist.all_reduce = self._counted(self._reduce)
        for queue in queues:
            queue.enqueue = self._queue_side(queue.enqueue)

    def _counted(self, fn):

        def wrapper(*args, **kwargs):
            tensor = args[1] if fn is self._gather else args[0]
            key = 'queue' if self._in_queue else 'loss'
            self.bytes[key] += tensor.numel() * tensor.element_size()
            return fn(*args, **kwargs)

        return wrapper

    def _queue_side(self, fn):

        def wrapper(*args, **kwargs):
            self._in_queue = True
            try:
                return fn(*args, **kwargs)
            finally:
                self._in_queue = False

        return wrapper

    def reset(self) -> None:
        self.bytes = dict.fromkeys(self.bytes, 0)


def worker(rank: int, world: int, threads: int, args) -> Optional[Dict]:
    """Time the steps of one process; rank 0 returns the figures."""
    torch.set_num_threads(threads)
    if world > 1:
        dist.init_process_group('gloo', rank=rank, world_size=world)
    init_default_scope('mmpretrain')
    MMLogger.get_current_instance().setLevel('WARNING')
    import nnclr_plugin  # noqa: F401  (registers the components)
    trainer = Trainer('nnclr', 'bench', args.memory)
    counter = CollectiveCounter(trainer.queues) if world > 1 else None
    grad_bytes = sum(p.numel() * p.element_size()
                     for p in trainer.model.parameters() if p.requires_grad)
    if world > 1:
        trainer.model = CPUDistributedDataParallel(
            module=trainer.model, broadcast_buffers=False)
    batches = []
    for batch in synthetic_batches('bench', args.steps):
        local = batch['inputs'].shape[0] // world
        rows = slice(rank * local, (rank + 1) * local)
        batches.append(dict(inputs=batch['inputs'][rows],
                            data_samples=batch['data_samples'][rows]))
    for i in range(args.warmup):
        trainer.step(batches[i % len(batches)])
    if counter is not None:
        counter.reset()
    times = []
    for _ in range(args.repeats):
        if world > 1:
            dist.barrier()
        start = time.perf_counter()
        for batch in batches:
            trainer.step(batch)
        if world > 1:
            dist.barrier()
        times.append((time.perf_counter() - start) / len(batches))
    steps = args.repeats * len(batches)
    result = dict(times=times, grad_bytes=grad_bytes)
    if counter is not None:
        result.update({f'{k}_bytes': v / steps
                       for k, v in counter.bytes.items()})
    if world > 1:
        dist.destroy_process_group()
    return result if rank == 0 else None


def _spawned(rank, world, threads, args, shared):
    result = worker(rank, world, threads, args)
    if rank == 0:
        shared.update(result)


def measure(world: int, threads: int, args) -> Dict:
    if world == 1:
        return worker(0, 1, threads, args)
    os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    os.environ['MASTER_PORT'] = str(args.port)
    with mp.Manager() as manager:
        shared = manager.dict()
        mp.spawn(_spawned, args=(world, threads, args, shared), nprocs=world)
        return dict(shared)


def render(report: Dict) -> str:
    r = report
    met = 'met' if r['ratio'] <= GOAL else 'NOT met'
    return '\n'.join([
        '## Process scaling (DDP, gloo)', '',
        f'Machine: {r["machine"]}. NNCLR bench model, global batch '
        f'{r["global_batch"]}, support set {r["memory"]:,} rows; 1 process '
        f'with {r["threads"]} threads vs {r["procs"]} processes with '
        f'{r["threads"] // r["procs"]} each; median of {r["repeats"]} x '
        f'{r["steps"]} steps. Command: `{r["command"]}`.', '',
        '| processes | ms / step |', '|---|---|',
        f'| 1 | {r["one_ms"]:.0f} |',
        f'| {r["procs"]} | {r["many_ms"]:.0f} |', '',
        f'Ratio {r["procs"]} / 1 processes: **{r["ratio"]:.3f}** '
        f'(goal <= {GOAL}: {met}).', '',
        f'Bytes each process sends into collectives per step: support-set '
        f'rows {r["queue_bytes"] / 1024:.0f} KiB, loss '
        f'{r["loss_bytes"] / 1024:.0f} KiB (all-gathers and the backward '
        f'all-reduce of gathered rows), DDP gradients '
        f'{r["grad_bytes"] / 2**20:.1f} MiB.', ''])


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--procs', type=int, default=2)
    parser.add_argument('--threads', type=int, default=os.cpu_count(),
                        help='threads in all (split between processes)')
    parser.add_argument('--memory', type=int, default=4096)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--port', type=int, default=29533)
    parser.add_argument('--out', default=osp.join(DOCS, 'results', 'speed',
                                                  'process_scaling.json'))
    parser.add_argument('--no-docs', action='store_true')
    args = parser.parse_args(argv)
    if args.threads % args.procs:
        parser.error(f'--threads {args.threads} must be a multiple of '
                     f'--procs {args.procs}')
    one = measure(1, args.threads, args)
    many = measure(args.procs, args.threads // args.procs, args)
    report = dict(
        command=' '.join([COMMAND] + sys.argv[1:]), machine=machine_kind(),
        procs=args.procs, threads=args.threads, memory=args.memory,
        global_batch=SCALES['bench'][1], steps=args.steps,
        repeats=args.repeats,
        one_ms=statistics.median(one['times']) * 1000,
        many_ms=statistics.median(many['times']) * 1000,
        queue_bytes=many['queue_bytes'], loss_bytes=many['loss_bytes'],
        grad_bytes=many['grad_bytes'])
    report['ratio'] = report['many_ms'] / report['one_ms']
    print(f'1 process: {report["one_ms"]:.0f} ms/step, {args.procs} '
          f'processes: {report["many_ms"]:.0f} ms/step, ratio '
          f'{report["ratio"]:.3f}; per step and process: queue '
          f'{report["queue_bytes"]:.0f} B, loss {report["loss_bytes"]:.0f} '
          f'B, gradients {report["grad_bytes"]:.0f} B', flush=True)
    if not args.no_docs:
        write_json(args.out, report)
        print('wrote', args.out,
              write_section('process-scaling', render(report)))
    return report


if __name__ == '__main__':
    main()
