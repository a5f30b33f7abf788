"""Fashion-MNIST kNN of every demo on the same budget, over several seeds.

Runs ``tools/demo.py`` once per (algorithm, seed), sequentially, reads each
run's ``knn.json`` and prints a table of top-1 (mean and standard deviation
over seeds) with the wall time of each run. With ``--write-results`` the
table becomes ``configs/demo/results.json``, the recorded figures that
``make demo`` prints next to its own result.

Example::

    python tools/benchmarks/demo_knn.py --algos simclr nnclr --seeds 0 1 2
"""
import argparse
import json
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, List

from nnclr_plugin.apis.demo import demo_configs, results_file

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = demo_configs(REPO)
RESULTS = results_file(REPO)


def run_one(algo: str, seed: int, work_root: str, reuse: bool) -> Dict:
    work_dir = osp.join(work_root, f'{algo}_seed{seed}')
    done = osp.join(work_dir, 'knn.json')
    if reuse and osp.exists(done):
        with open(done) as f:
            return json.load(f)
    start = time.time()
    subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'demo.py'), '--algo', algo, '--seed',
        str(seed), '--no-grid', '--work-dir', work_dir
    ], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    with open(done) as f:
        result = json.load(f)
    result['wall_s'] = time.time() - start
    with open(done, 'w') as f:  # keep the wall time for --reuse
        json.dump(result, f, indent=2)
    return result


def summarise(runs: Dict[str, List[Dict]]) -> Dict[str, Dict]:
    table = {}
    for algo, results in runs.items():
        top1 = [r['top1'] for r in results]
        # A run reused from an older work dir may have no wall time.
        walls = [r['wall_s'] for r in results if 'wall_s' in r]
        table[algo] = dict(
            top1=statistics.mean(top1),
            top1_std=statistics.stdev(top1) if len(top1) > 1 else 0.,
            top1_runs=top1,
            seeds=len(top1),
            wall_s_median=statistics.median(walls) if walls else None,
            note=f'{len(top1)} seed(s), 300 it x 128, kNN train 10k/test 2k')
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--algos', nargs='+', default=sorted(CONFIGS),
                        choices=sorted(CONFIGS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0])
    parser.add_argument('--work-root',
                        default=osp.join(REPO, 'work_dirs', 'demo_knn'))
    parser.add_argument(
        '--reuse', action='store_true',
        help='take the result of a finished earlier run from its work dir')
    parser.add_argument('--write-results', action='store_true',
                        help=f'merge the table into {RESULTS}')
    args = parser.parse_args()

    runs: Dict[str, List[Dict]] = {}
    for seed in args.seeds:  # seeds outermost: partial runs stay comparable
        for algo in args.algos:
            result = run_one(algo, seed, args.work_root, args.reuse)
            runs.setdefault(algo, []).append(result)
            print(f'{algo:<11} seed {seed}: top-1 {result["top1"]:.2f} '
                  f'({result.get("wall_s", float("nan")):.0f} s)', flush=True)
    table = summarise(runs)
    print(f'\n{"algo":<11} {"top-1":>7} {"std":>5} seeds  wall(s)')
    for algo, row in table.items():
        print(f'{algo:<11} {row["top1"]:7.2f} {row["top1_std"]:5.2f} '
              f'{row["seeds"]:5d}  {row["wall_s_median"] or 0:7.0f}')
    if args.write_results:
        recorded = {}
        if osp.exists(RESULTS):
            with open(RESULTS) as f:
                recorded = json.load(f)
        recorded.setdefault('results', {}).update(table)
        recorded['command'] = ('python tools/benchmarks/demo_knn.py ' +
                               ' '.join(sys.argv[1:]))
        with open(RESULTS, 'w') as f:
            json.dump(recorded, f, indent=2, sort_keys=True)
        print(f'written to {RESULTS}')


if __name__ == '__main__':
    main()
