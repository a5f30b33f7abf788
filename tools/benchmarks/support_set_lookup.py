"""Top-k lookup in a paper-size support set: blocked vs. one full matrix.

``SupportSetQueue.nearest`` with ``block_size`` scores the queue in blocks
and merges running top-k lists, so the ``B x Q`` similarity matrix of a
naive lookup (lightly's memory bank, ``block_size=None`` here) is never
built. Each variant runs in its own process so that its peak resident
memory can be read (on CPU the growth of the peak over the set-up's own
peak; it stays 0 when the lookup fits under it, so the size of the largest
similarity matrix is printed too); times are medians over repeats, and the
ratios are taken within this one run.

Example (paper sizes: Q = 98,304, d = 256, global batch 4,096)::

    python tools/benchmarks/support_set_lookup.py --batch 4096
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def child(size: int, dim: int, batch: int, k: int, block, repeats: int,
          device: str) -> dict:
    import torch

    from nnclr_plugin.models import SupportSetQueue
    torch.manual_seed(0)
    queue = SupportSetQueue(size, dim, block_size=block).to(device)
    queue.enqueue(torch.randn(size, dim, device=device))
    query = torch.randn(batch, dim, device=device)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats):
        if device == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        nbrs = queue.nearest(query, k)
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device == 'cuda'
            else (rss_after - rss_before) / 1024)
    return dict(median_s=statistics.median(times), peak_extra_mib=peak,
                checksum=float(nbrs.sims.sum()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=98304)
    parser.add_argument('--dim', type=int, default=256)
    parser.add_argument('--batch', type=int, default=4096)
    parser.add_argument('--k', type=int, default=1)
    parser.add_argument('--blocks', nargs='+', default=['none', '8192',
                                                        '2048'])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        block = None if args.child == 'none' else int(args.child)
        print(json.dumps(child(args.size, args.dim, args.batch, args.k,
                               block, args.repeats, args.device)))
        return

    results = {}
    for block in args.blocks:
        out = subprocess.run([
            sys.executable, __file__, '--child', block, '--size',
            str(args.size), '--dim', str(args.dim), '--batch',
            str(args.batch), '--k', str(args.k), '--repeats',
            str(args.repeats), '--device', args.device
        ], check=True, capture_output=True, text=True).stdout
        results[block] = json.loads(out.strip().splitlines()[-1])
    base = results[args.blocks[0]]
    print(f'Q={args.size} d={args.dim} B={args.batch} k={args.k} '
          f'on {args.device}, median of {args.repeats}')
    for block, r in results.items():
        same = abs(r['checksum'] - base['checksum']) < 1e-2 * args.batch
        rows = args.size if block == 'none' else min(int(block), args.size)
        sims_mib = args.batch * rows * 4 / 2**20
        print(f'  block_size={block:>6}: {r["median_s"] * 1000:8.1f} ms '
              f'({r["median_s"] / base["median_s"]:.2f}x time), similarity '
              f'block {sims_mib:6.0f} MiB, peak RSS growth '
              f'{r["peak_extra_mib"]:6.0f} MiB, same result: {same}')


if __name__ == '__main__':
    main()
