"""Whole training runs with the support set scored in float32 and 'auto'.

The lookup benchmarks time ``score_dtype`` on fixed rows; what a user
needs to know is what it does over a run, where the rows are the
network's own projections as they evolve. This script trains a bench
config (``configs/bench/``, 1,000 iterations, seed 0) at a paper-size
support set twice, once per score dtype, and reports from the two runs:

* how often the reduced-precision lookup had to look queries up again in
  float32 (``support_set/float32_relookup``, logged every iteration);
* whether the two runs are the same run: the final checkpoints' weights
  compared tensor by tensor, and the logged losses iteration by iteration
  (the lookup returns the float32 neighbours, so they must be equal bit
  for bit);
* the final kNN accuracy of each (``step_time.py`` times the steps, side
  by side; these runs' own times are not comparable).

Runs are ``tools/train.py`` processes in ``--work-root/<algo>_<memory>_<
dtype>``; ``--reuse`` reads finished ones instead of training again.
Writes ``docs/results/speed/score_dtype_training.json`` and the
``score-dtype-training`` section of ``docs/benchmarks.md``.

Examples::

    python tools/benchmarks/score_dtype_training.py
    python tools/benchmarks/score_dtype_training.py --cases nnclr@98304 \\
        --reuse --no-docs
"""
import argparse
import glob
import json
import os.path as osp
import statistics
import subprocess
import sys
from typing import Dict, List, Optional

import torch
from benchmark_docs import DOCS, REPO, machine_kind, write_section

from nnclr_plugin.evaluation import write_json
from nnclr_plugin.utils.checkpoint_files import read_checkpoint

BENCH = osp.join('configs', 'bench',
                 '{}_resnet18-c16_1xb256-coslr-1000it_fashion-mnist.py')
ITERS = 1000
# NNCLR's paper memory; SNCLR's, with its K = 30 candidates.
CASES = ['nnclr@98304', 'snclr@128000']
DTYPES = ('float32', 'auto')
COMMAND = 'python tools/benchmarks/score_dtype_training.py'


def train(algo: str, memory: int, dtype: str, work_dir: str) -> None:
    """One bench run at ``memory`` rows, logging every iteration."""
    cmd = [
        sys.executable, osp.join(REPO, 'tools', 'train.py'),
        osp.join(REPO, BENCH.format(algo)), '--work-dir', work_dir,
        '--cfg-options', f'model.head.queue.size={memory}',
        f'model.head.queue.score_dtype={dtype}',
        'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=250',
        'default_hooks.checkpoint.max_keep_ckpts=4'
    ]
    print(' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO)


def read_run(work_dir: str) -> Dict:
    """Per-iteration scalars, the final kNN and the final weights of a
    finished run."""
    final = osp.join(work_dir, f'iter_{ITERS}.pth')
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    if not osp.isfile(final) or not logs:
        raise FileNotFoundError(
            f'{work_dir}: no finished run (iter_{ITERS}.pth and '
            'vis_data/scalars.json); run without --reuse')
    with open(logs[-1]) as f:  # the latest run in the dir
        rows = [json.loads(line) for line in f]
    rows = [r for r in rows if 'loss' in r]
    with open(osp.join(work_dir, 'knn_history.json')) as f:
        knn = [h for h in json.load(f) if h.get('final')]
    return dict(
        iters=[r['iter'] for r in rows],
        loss=[r['loss'] for r in rows],
        relookup=[r['support_set/float32_relookup'] for r in rows
                  if 'support_set/float32_relookup' in r],
        knn_top1=knn[-1]['knn/top1'] if knn else None,
        weights=read_checkpoint(final, 'score_dtype_training.py')
        ['state_dict'])


def compare(algo: str, memory: int, runs: Dict[str, Dict]) -> Dict:
    """The float32 and 'auto' runs of one case, side by side."""
    ref, fast = runs['float32'], runs['auto']
    differing = [k for k, v in ref['weights'].items()
                 if not torch.equal(v, fast['weights'][k])]
    same_loss = sum(a == b for a, b in zip(ref['loss'], fast['loss']))
    relookup = fast['relookup']
    return dict(
        case=f'{algo}@{memory}', algo=algo, memory=memory, iters=ITERS,
        tensors=len(ref['weights']), differing_tensors=differing,
        logged_losses=len(ref['loss']), equal_losses=same_loss,
        max_loss_diff=max(abs(a - b)
                          for a, b in zip(ref['loss'], fast['loss'])),
        relookup_logged=len(relookup),
        relookup_mean=statistics.mean(relookup) if relookup else None,
        relookup_max=max(relookup) if relookup else None,
        relookup_nonzero=sum(v > 0 for v in relookup),
        knn_float32=ref['knn_top1'], knn_auto=fast['knn_top1'])


def render(report: Dict) -> str:
    lines = [
        '## Reduced-precision scores over whole training runs', '',
        f'Machine: {report["machine"]}. Each case trains its bench config '
        f'({ITERS} iterations, batch 256, seed 0) at the paper memory '
        'twice, with `model.head.queue.score_dtype=float32` and `auto` '
        '(bfloat16 scores on this CPU), logging every iteration. '
        '`re-looked up`: the share of queries the bfloat16 lookup sent '
        'back to float32 (`support_set/float32_relookup`, a mean over the '
        'logger\'s 10-iteration window): its mean over the run, its '
        'largest value, and in how many logged iterations it was above 0. '
        '`same run`: the final weights equal tensor by tensor and the '
        'logged losses equal at every iteration. Command: '
        f'`{report["command"]}`.', '',
        '| case | re-looked up (mean / max / iterations > 0) | same run '
        '| kNN top-1 float32 / auto |',
        '|---|---|---|---|']
    for r in report['rows']:
        same = (not r['differing_tensors'] and
                r['equal_losses'] == r['logged_losses'])
        verdict = (f'yes ({r["tensors"]} tensors, {r["logged_losses"]} '
                   'losses)' if same else
                   f'NO: {len(r["differing_tensors"])} tensors differ, '
                   f'{r["equal_losses"]} of {r["logged_losses"]} losses '
                   f'equal (max diff {r["max_loss_diff"]:.2e})')
        looked = ('—' if r['relookup_mean'] is None else
                  f'{r["relookup_mean"]:.2%} / {r["relookup_max"]:.2%} / '
                  f'{r["relookup_nonzero"]} of {r["relookup_logged"]}')
        lines.append(
            f'| {r["algo"]} @ {r["memory"]:,} | {looked} | {verdict} | '
            f'{r["knn_float32"]} / {r["knn_auto"]} |')
    lines.append('')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cases', nargs='+', default=CASES,
                        help='ALGO@MEMORY, ALGO a configs/bench/ config')
    parser.add_argument('--work-root',
                        default=osp.join(REPO, 'work_dirs',
                                         'score_dtype_training'))
    parser.add_argument('--reuse', action='store_true',
                        help='read finished runs in --work-root instead '
                        'of training them again')
    parser.add_argument('--out', default=osp.join(
        DOCS, 'results', 'speed', 'score_dtype_training.json'))
    parser.add_argument('--no-docs', action='store_true',
                        help='print only; leave docs/ as it is')
    args = parser.parse_args(argv)
    rows = []
    for case in args.cases:
        algo, memory = case.split('@')
        runs = {}
        for dtype in DTYPES:
            work_dir = osp.join(args.work_root, f'{algo}_{memory}_{dtype}')
            if not args.reuse:
                train(algo, int(memory), dtype, work_dir)
            runs[dtype] = read_run(work_dir)
        rows.append(compare(algo, int(memory), runs))
        print(json.dumps(rows[-1]), flush=True)
    report = dict(command=' '.join([COMMAND] + sys.argv[1:]),
                  machine=machine_kind(), rows=rows)
    if not args.no_docs:
        write_json(args.out, report)
        print('wrote', args.out,
              write_section('score-dtype-training', render(report)))
    return report


if __name__ == '__main__':
    main()
