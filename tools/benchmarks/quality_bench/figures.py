"""The report's two PNG figures, drawn from the stored results.

``benchmarks_knn_curves.png``: kNN top-1 during training, mean and
min-max band over seeds, per method. ``benchmarks_nn_agreement.png``: the
support set's NN label agreement and SNCLR's positiveness weights.
"""
import json
import os.path as osp
import statistics
from typing import Dict, List

from .cells import LABELS, runs_of
from .results import curve_of


def curve(result: Dict, root: str) -> List[List[float]]:
    """``[[iter, kNN top-1], ...]`` on the hook's fixed subsets.

    Older results carry no ``history``; their work dir under ``root``
    may still hold it, else the stored ``curve`` is used.
    """
    history = result.get('history')
    if history is None:
        path = osp.join(root, result['key'], 'knn_history.json')
        if not osp.isfile(path):
            return result['curve']
        with open(path) as f:
            history = json.load(f)
    return curve_of(history)


def write_figures(results: List[Dict], budget: int, docs: str,
                  root: str) -> List[str]:
    """Draw both figures into ``docs``; return their paths.

    Args:
        results (list[dict]): Stored results (the CPU campaign).
        budget (int): The standard budget; only its ``main`` runs show.
        docs (str): Folder of ``benchmarks.md``.
        root (str): Work root, for curves of results without history.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return [_knn_curves(plt, results, budget, docs, root),
            _support_set(plt, results, budget, docs)]


def _knn_curves(plt, results: List[Dict], budget: int, docs: str,
                root: str) -> str:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in LABELS:
        runs = runs_of(results, 'main', method, iters=budget)
        if not runs:
            continue
        points: Dict[int, List[float]] = {}
        for r in runs:
            for it, value in curve(r, root):
                points.setdefault(it, []).append(value)
        iters = sorted(points)
        mean = [statistics.mean(points[i]) for i in iters]
        line, = ax.plot(iters, mean, marker='o', ms=3, label=LABELS[method])
        if len(runs) > 1:
            ax.fill_between(iters, [min(points[i]) for i in iters],
                            [max(points[i]) for i in iters],
                            color=line.get_color(), alpha=0.2)
    ax.set_xlabel('iteration (batch 256)')
    ax.set_ylabel('kNN top-1 (%)')
    ax.set_title('kNN top-1 during training on fixed subsets (10k memory, '
                 '5k queries; band: min-max over seeds)', fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(plt, fig, osp.join(docs, 'benchmarks_knn_curves.png'))


def _support_set(plt, results: List[Dict], budget: int, docs: str) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for method in ('nnclr', 'snclr', 'nn-byol'):
        runs = runs_of(results, 'main', method, iters=budget)
        for i, r in enumerate(runs):
            pts = r['scalars'].get('support_set/nn_label_agreement', [])
            if pts:
                axes[0].plot([p[0] for p in pts], [p[1] for p in pts],
                             color=f'C{list(LABELS).index(method)}',
                             alpha=0.7, lw=1,
                             label=LABELS[method] if i == 0 else None)
    axes[0].set_xlabel('iteration')
    axes[0].set_ylabel('share of top-1 neighbours of the same class')
    axes[0].set_title('Support-set NN label agreement', fontsize=9)
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3)
    for i, r in enumerate(runs_of(results, 'main', 'snclr', iters=budget)):
        for key, style in (('support_set/positiveness_max', '-'),
                           ('support_set/positiveness_entropy', '--')):
            pts = r['scalars'].get(key, [])
            if pts:
                axes[1].plot([p[0] for p in pts], [p[1] for p in pts],
                             style, color='C3', alpha=0.7, lw=1,
                             label=key.split('/')[-1] if i == 0 else None)
    axes[1].set_xlabel('iteration')
    axes[1].set_title('SNCLR positiveness weights (uniform: max = 1/K, '
                      'entropy/log K = 1)', fontsize=9)
    axes[1].set_yscale('log')
    axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3)
    return _save(plt, fig, osp.join(docs, 'benchmarks_nn_agreement.png'))


def _save(plt, fig, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
