"""The stored results of finished runs: one ``<key>.json`` per run.

The folders are tracked in git so that a campaign spans sessions (work
dirs and checkpoints are not kept between machines); the report reads
only these files (and the baselines' cache).
"""
import json
import os
import os.path as osp
from typing import Dict, List

from ..benchmark_docs import REPO

RESULTS = osp.join(REPO, 'docs', 'results', 'quality')
# ``--gpu`` runs (GPU_FACTOR x the budget), kept apart.
RESULTS_GPU = osp.join(REPO, 'docs', 'results', 'quality_gpu')


def curve_of(history: List[Dict]) -> List[List[float]]:
    """``[[iter, kNN top-1], ...]`` of a ``knn_history.json``: the points
    on the hook's fixed subsets, without the final full-set evaluation."""
    return [[h['iter'], h['knn/top1']] for h in history if not h['final']]


def keep_result(result: Dict, results_dir: str) -> None:
    """Write ``result`` as ``<results_dir>/<key>.json``."""
    os.makedirs(results_dir, exist_ok=True)
    with open(osp.join(results_dir, result['key'] + '.json'), 'w') as f:
        json.dump(result, f, indent=1)


def load_results(results_dir: str) -> List[Dict]:
    """Every stored result of ``results_dir``, by file name; none if the
    folder does not exist."""
    if not osp.isdir(results_dir):
        return []
    results = []
    for name in sorted(os.listdir(results_dir)):
        if name.endswith('.json'):
            with open(osp.join(results_dir, name)) as f:
                results.append(json.load(f))
    return results


def sync_results(root: str, results_dir: str) -> None:
    """Copy finished runs of a work root (e.g. written by an older
    version of this benchmark) into the tracked results folder.

    Args:
        root (str): Folder of the runs' work dirs, one per run key.
        results_dir (str): Folder of the stored results; a run already
            stored there is left alone.
    """
    if not osp.isdir(root):
        return
    for name in sorted(os.listdir(root)):
        path = osp.join(root, name, 'result.json')
        if osp.isfile(path) and not osp.isfile(
                osp.join(results_dir, name + '.json')):
            with open(path) as f:
                result = json.load(f)
            history = osp.join(root, name, 'knn_history.json')
            if 'history' not in result and osp.isfile(history):
                with open(history) as f:
                    result['history'] = json.load(f)
                result['curve'] = curve_of(result['history'])
            keep_result(result, results_dir)
