"""How the report picks runs out of the results and writes table cells.

Every section of the report is built from these: ``runs_of`` selects the
runs of one arm, the ``*_cell`` functions turn their figures into the
strings the tables show (``—`` where there is nothing to show).
"""
import statistics
from typing import Dict, List, Optional, Tuple

LABELS = {
    'simclr': 'SimCLR',
    'nnclr': 'NNCLR',
    'mocov3': 'MoCo v3',
    'snclr': 'SNCLR',
    'byol': 'BYOL',
    'nn-byol': 'NN-BYOL',
    'lightly-nnclr': "lightly's NNCLR",
}


def runs_of(results: List[Dict], group: str, method: str,
            variant: str = 'default',
            iters: Optional[int] = None) -> List[Dict]:
    """The runs of one arm, by seed.

    Args:
        results (list[dict]): Stored results.
        group (str): The plan's group; ``'main'`` includes ``'peer'``
            (lightly's NNCLR is a method of the main table).
        method (str): e.g. ``'nnclr'``.
        variant (str): e.g. ``'temp0.2'``.
        iters (int, optional): Only runs of this budget.

    Returns:
        list[dict]: The matching results, sorted by seed.
    """
    return sorted([
        r for r in results if r['method'] == method
        and r['variant'] == variant and (iters is None or r['iters'] == iters)
        and (r['group'] == group or (group == 'main' and r['group'] in (
            'main', 'peer')))
    ], key=lambda r: r['seed'])


def mean_std(values: List[float]) -> Tuple[float, float]:
    """Mean and sample std (0 for one value)."""
    mean = statistics.mean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def seeds_cell(values: List[float]) -> str:
    """``mean ± std`` over seeds, ``x (1 seed)`` or ``—``."""
    if not values:
        return '—'
    mean, std = mean_std(values)
    if len(values) == 1:
        return f'{mean:.2f} (1 seed)'
    return f'{mean:.2f} ± {std:.2f}'


def paired_cell(a: List[Dict], b: List[Dict], key: str) -> str:
    """Mean ± std of ``a - b`` over the seeds both arms ran, or ``—``."""
    seeds = sorted({r['seed'] for r in a} & {r['seed'] for r in b})
    if not seeds:
        return '—'
    diffs = [
        [r[key] for r in a if r['seed'] == s][0] -
        [r[key] for r in b if r['seed'] == s][0] for s in seeds
    ]
    mean, std = mean_std(diffs)
    return (f'{mean:+.2f} ± {std:.2f} ({len(seeds)} seeds)'
            if len(seeds) > 1 else f'{mean:+.2f} (1 seed)')


def margin_cell(value: float, base: Dict, key: str) -> str:
    """``value`` minus the raw-pixel baseline's ``key``, or — if absent."""
    pixels = base.get('raw pixels', {})
    return '—' if key not in pixels else f'{value - pixels[key]:+.2f}'


def last_value(result: Dict, key: str) -> Optional[float]:
    """The last logged value of the scalar ``key``, or None."""
    pts = result['scalars'].get(key, [])
    return pts[-1][1] if pts else None
