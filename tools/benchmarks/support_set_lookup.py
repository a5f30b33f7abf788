"""Support-set lookup cost: time and peak memory vs. queue size and batch.

``SupportSetQueue.nearest`` scores the queue in blocks
(``block_size='auto'``: about 16 MiB of scores at a time) so that the
``B x Q`` similarity matrix of a naive lookup is never built; ``full``
(``block_size=None``) builds it, as lightly's memory bank does. Every
(Q, B, k, variant) point runs in its own process so that its peak memory
can be read: on CPU the growth of the peak resident set over the set-up's
(bank and queries already allocated), on CUDA ``max_memory_allocated``
over the set-up's. Times are medians of at least ``--repeats`` lookups
(more for fast points, up to half a second of them) after one untimed
lookup; the blocked/full ratios are taken within this one run.

Writes ``docs/results/speed/lookup.json``, ``docs/benchmarks_lookup.png``
and the ``lookup`` section of ``docs/benchmarks.md``.

Examples::

    python tools/benchmarks/support_set_lookup.py          # the whole sweep
    python tools/benchmarks/support_set_lookup.py --sizes 98304 \\
        --batches 4096 --ks 1 --no-docs                    # one point
    python tools/benchmarks/support_set_lookup.py --ks 30 --update  # redo k=30
"""
import argparse
import json
import os.path as osp
import resource
import statistics
import subprocess
import sys
import time
from typing import Dict, List

from benchmark_docs import DOCS, machine_kind, write_section

from nnclr_plugin.evaluation import write_json

VARIANTS = {'full': None, 'blocked': 'auto'}
# The goal, at the paper's sizes on CPU.
GOAL = dict(size=98304, batch=4096, dim=256, max_extra_mib=256)
COMMAND = 'python tools/benchmarks/support_set_lookup.py'


def child(size: int, dim: int, batch: int, k: int, variant: str,
          repeats: int, device: str) -> Dict:
    """One point, in a fresh process: median time and peak extra memory."""
    import torch

    from nnclr_plugin.models import SupportSetQueue
    torch.manual_seed(0)
    queue = SupportSetQueue(size, dim,
                            block_size=VARIANTS[variant]).to(device)
    # In chunks, so that the set-up's own peak is not far above the bank.
    for start in range(0, size, 8192):
        queue.enqueue(torch.randn(min(8192, size - start), dim,
                                  device=device))
    query = torch.randn(batch, dim, device=device)
    if device == 'cuda':
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, first = [], True
    # At least `repeats` lookups and half a second of them, so that the
    # millisecond-scale points get a stable median too.
    nbrs = None
    while len(times) < repeats or (sum(times) < 0.5 and len(times) < 50):
        # One lookup's peak: the previous result is freed first, as a
        # training step frees the last step's neighbours.
        nbrs = None
        start = time.perf_counter()
        nbrs = queue.nearest(query, k)
        if device == 'cuda':
            torch.cuda.synchronize()
        if not first:  # the first lookup warms up allocator and kernels
            times.append(time.perf_counter() - start)
        first = False
    if device == 'cuda':
        extra = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        extra = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss -
                 base) / 1024
    point = dict(median_ms=statistics.median(times) * 1000,
                 peak_extra_mib=extra,
                 checksum=float(nbrs.sims.double().sum()),
                 threads=torch.get_num_threads())
    return point


def run_point(args, size: int, batch: int, k: int, variant: str) -> Dict:
    cmd = [sys.executable, __file__, '--child', variant, '--sizes',
           str(size), '--batches', str(batch), '--ks', str(k), '--dim',
           str(args.dim), '--repeats', str(args.repeats), '--device',
           args.device]
    out = subprocess.run(cmd, check=True, capture_output=True,
                         text=True).stdout
    point = json.loads(out.strip().splitlines()[-1])
    point.update(size=size, batch=batch, k=k, variant=variant)
    return point


def pair_rows(points: List[Dict]) -> List[Dict]:
    """One row per (Q, B, k): both variants side by side and the
    ratio."""
    by_key = {(p['size'], p['batch'], p['k'], p['variant']): p
              for p in points}
    rows = []
    for (size, batch, k, variant), full in sorted(by_key.items()):
        if variant != 'full' or (size, batch, k, 'blocked') not in by_key:
            continue
        blocked = by_key[size, batch, k, 'blocked']
        rows.append(dict(
            size=size, batch=batch, k=k,
            full_ms=full['median_ms'], blocked_ms=blocked['median_ms'],
            time_ratio=blocked['median_ms'] / full['median_ms'],
            full_extra_mib=full['peak_extra_mib'],
            blocked_extra_mib=blocked['peak_extra_mib'],
            same_result=abs(full['checksum'] - blocked['checksum']) <=
            1e-4 * batch * k))
    return rows


def goal_rows(rows: List[Dict]) -> List[Dict]:
    return [r for r in rows
            if r['size'] == GOAL['size'] and r['batch'] == GOAL['batch']]


def render(report: Dict) -> str:
    rows = report['rows']
    lines = [
        '## Support-set lookup: time and memory', '',
        f'Machine: {report["machine"]}; d = {report["dim"]}, median of '
        f'at least {report["repeats"]} lookups (up to 0.5 s of them), each '
        'point in its own process. '
        '`blocked` is the default (`block_size=\'auto\'`, about 16 MiB of '
        'scores at a time), `full` builds the `B x Q` matrix '
        '(`block_size=None`, as lightly\'s memory bank). Command: '
        f'`{report["command"]}`.', '',
        f'Goal at Q = {GOAL["size"]:,}, B = {GOAL["batch"]:,}, '
        f'd = {GOAL["dim"]}: blocked peak growth <= '
        f'{GOAL["max_extra_mib"]} MiB and time <= the full matrix\'s.', '']
    for r in goal_rows(rows):
        met = (r['blocked_extra_mib'] <= GOAL['max_extra_mib']
               and r['time_ratio'] <= 1.0)
        returned = r['batch'] * r['k'] * report['dim'] * 4 / 2**20
        lines.append(
            f'- k = {r["k"]}: blocked {r["blocked_ms"]:.0f} ms vs full '
            f'{r["full_ms"]:.0f} ms (**{r["time_ratio"]:.2f}x**), peak '
            f'growth {r["blocked_extra_mib"]:.0f} MiB vs '
            f'{r["full_extra_mib"]:.0f} MiB, of which {returned:.0f} MiB '
            f'are the returned neighbours: goal '
            f'{"met" if met else "NOT met"}.')
    lines += ['', 'Each peak is one lookup\'s (the previous result is freed '
              'first, as a training step frees the last step\'s). Both '
              'include the `(B, k, d)` neighbour vectors the lookup returns '
              '(last column); the rest is its working memory.', '',
              '| Q | B | k | full ms | blocked ms | blocked/full | '
              'full peak MiB | blocked peak MiB | same result | returned '
              'MiB |', '|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        returned = r['batch'] * r['k'] * report['dim'] * 4 / 2**20
        lines.append(
            f'| {r["size"]:,} | {r["batch"]:,} | {r["k"]} | '
            f'{r["full_ms"]:.1f} | {r["blocked_ms"]:.1f} | '
            f'{r["time_ratio"]:.2f} | {r["full_extra_mib"]:.0f} | '
            f'{r["blocked_extra_mib"]:.0f} | '
            f'{"yes" if r["same_result"] else "NO"} | {returned:.0f} |')
    lines += ['', '![lookup scaling](benchmarks_lookup.png)', '']
    return '\n'.join(lines)


def plot(rows: List[Dict], path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ks = sorted({r['k'] for r in rows})
    fig, axes = plt.subplots(2, len(ks), figsize=(5.5 * len(ks), 8),
                             squeeze=False)
    for col, k in enumerate(ks):
        for batch in sorted({r['batch'] for r in rows}):
            sel = sorted((r for r in rows
                          if r['k'] == k and r['batch'] == batch),
                         key=lambda r: r['size'])
            sizes = [r['size'] for r in sel]
            for row, (full, blocked, unit) in enumerate(
                    (('full_ms', 'blocked_ms', 'time (ms)'),
                     ('full_extra_mib', 'blocked_extra_mib',
                      'peak growth (MiB)'))):
                ax = axes[row][col]
                line, = ax.plot(sizes, [r[blocked] for r in sel], 'o-',
                                label=f'blocked, B={batch}')
                ax.plot(sizes, [r[full] for r in sel], 's--',
                        color=line.get_color(), label=f'full, B={batch}')
                ax.set_xscale('log', base=2)
                ax.set_yscale('symlog' if row else 'log')
                ax.set_xlabel('support set size Q')
                ax.set_ylabel(unit)
                ax.set_title(f'k = {k}: {unit}')
                ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_docs(report: Dict) -> str:
    """The plot and the ``lookup`` section of the docs from ``report``;
    returns the page written."""
    plot(report['rows'], osp.join(DOCS, 'benchmarks_lookup.png'))
    return write_section('lookup', render(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[4096, 16384, 65536, 98304, 131072])
    parser.add_argument('--batches', type=int, nargs='+',
                        default=[256, 1024, 4096])
    parser.add_argument('--ks', type=int, nargs='+', default=[1, 30])
    parser.add_argument('--dim', type=int, default=256)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default=osp.join(DOCS, 'results', 'speed',
                                                  'lookup.json'))
    parser.add_argument('--no-docs', action='store_true',
                        help='print only; leave docs/ as it is')
    parser.add_argument('--update', action='store_true',
                        help='re-measure only the given points of --out')
    parser.add_argument('--render', action='store_true',
                        help='measure nothing: rewrite the docs section and '
                        'plot from --out')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render:
        with open(args.out) as f:
            report = json.load(f)
        print(write_docs(report))
        return
    if args.child is not None:
        print(json.dumps(child(args.sizes[0], args.dim, args.batches[0],
                               args.ks[0], args.child, args.repeats,
                               args.device)))
        return

    points, command = [], ' '.join([COMMAND] + sys.argv[1:])
    if args.update and osp.isfile(args.out):
        # Re-measure some points of an earlier sweep, keep the others.
        with open(args.out) as f:
            old = json.load(f)
        redo = {(s, b, k) for s in args.sizes for b in args.batches
                for k in args.ks}
        points = [p for p in old['points']
                  if (p['size'], p['batch'], p['k']) not in redo]
        command = f'{old["command"]}, then {command}'
    for k in args.ks:
        for batch in args.batches:
            for size in args.sizes:
                for variant in VARIANTS:
                    points.append(run_point(args, size, batch, k, variant))
                    p = points[-1]
                    print(f'Q={size:>6} B={batch:>4} k={k:>2} {variant:>7}: '
                          f'{p["median_ms"]:9.1f} ms, peak growth '
                          f'{p["peak_extra_mib"]:6.0f} MiB', flush=True)
    rows = pair_rows(points)
    report = dict(command=command,
                  machine=machine_kind().replace(
                      f'({__import__("torch").get_num_threads()} threads)',
                      f'({points[0]["threads"]} threads)'),
                  device=args.device, dim=args.dim, repeats=args.repeats,
                  rows=rows, points=points)
    for r in goal_rows(rows):
        print(f'goal point k={r["k"]}: blocked/full time '
              f'{r["time_ratio"]:.2f}, peak growth '
              f'{r["blocked_extra_mib"]:.0f} MiB (full '
              f'{r["full_extra_mib"]:.0f} MiB)')
    if args.no_docs:
        return
    write_json(args.out, report)
    print('wrote', args.out, write_docs(report))


if __name__ == '__main__':
    main()
