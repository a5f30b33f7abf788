"""The report's ablation sections, one per group of the plan beyond ``main``.

Each function takes the stored results (and the baselines and the
standard budget where it needs them) and returns markdown lines, none if
the group has no runs yet. Variants are compared with the default run of
the same method (and seed, where the group runs one seed).
"""
import statistics
from typing import Dict, List

from .cells import (
    LABELS,
    last_value,
    margin_cell,
    paired_cell,
    runs_of,
    seeds_cell,
)
from .plan import DEFAULT_QUEUE


def crop_only(results: List[Dict], budget: int) -> List[str]:
    """SimCLR and NNCLR with crop + flip views against full views."""
    rows = []
    for method in ('simclr', 'nnclr'):
        full = runs_of(results, 'main', method, iters=budget)
        crop = runs_of(results, 'crop', method, 'crop-only', iters=budget)
        if full and crop:
            row = f'| {LABELS[method]} | {len(crop)} |'
            for key in ('knn_top1', 'probe_top1'):
                f_mean = statistics.mean(r[key] for r in full)
                c_mean = statistics.mean(r[key] for r in crop)
                row += (f' {seeds_cell([r[key] for r in full])} | '
                        f'{seeds_cell([r[key] for r in crop])} | '
                        f'{100 * (f_mean - c_mean) / f_mean:.2f} % |')
            rows.append(row)
    if not rows:
        return []
    return [
        '### Crop-only ablation', '',
        'Views with random resized crop + flip only '
        '(`model.data_preprocessor.jitter_prob=0`), same budget and '
        'seeds. Relative drop = (full − crop-only) / full.', '',
        '| method | seeds | kNN full | kNN crop-only | kNN rel. drop | '
        'probe full | probe crop-only | probe rel. drop |',
        '|---|---|---|---|---|---|---|---|'
    ] + rows + ['']


def queue_sizes(results: List[Dict], budget: int) -> List[str]:
    """NNCLR (seed 0) by support-set size, the default run included."""
    sweep = [(r, DEFAULT_QUEUE)
             for r in runs_of(results, 'main', 'nnclr', iters=budget)
             if r['seed'] == 0]
    sweep += [(r, r['options']['model.head.queue.size']) for r in results
              if r['group'] == 'queue' and r['iters'] == budget]
    if len(sweep) < 2:
        return []
    lines = [
        '### Support-set size (NNCLR, seed 0)', '',
        '| queue rows | share of train set | kNN top-1 | probe top-1 | '
        'final NN label agreement |', '|---|---|---|---|---|'
    ]
    for r, q in sorted(sweep, key=lambda x: x[1]):
        agree = last_value(r, 'support_set/nn_label_agreement')
        lines.append(f'| {q} | {100 * q / 60000:.1f} % | '
                     f'{r["knn_top1"]:.2f} | {r["probe_top1"]:.2f} | '
                     f'{"—" if agree is None else f"{agree:.3f}"} |')
    return lines + ['']


def top_k(results: List[Dict], budget: int) -> List[str]:
    """NNCLR (seed 0) with k positives per query against k = 1."""
    topk = [r for r in results if r['group'] == 'topk'
            and r['iters'] == budget]
    base0 = [r for r in runs_of(results, 'main', 'nnclr', iters=budget)
             if r['seed'] == 0]
    if not (topk and base0):
        return []
    lines = ['### Top-k positives (NNCLR, seed 0)', '',
             '| k | mode | kNN top-1 | probe top-1 |', '|---|---|---|---|',
             f'| 1 | — | {base0[0]["knn_top1"]:.2f} | '
             f'{base0[0]["probe_top1"]:.2f} |']
    for r in topk:
        lines.append(f'| {r["options"]["model.head.k"]} | '
                     f'{r["options"]["model.head.topk_mode"]} | '
                     f'{r["knn_top1"]:.2f} | {r["probe_top1"]:.2f} |')
    return lines + ['']


# The paired lines under the cause table: (text, NNCLR variant, reference
# method's default run).
CAUSE_PAIRS = [
    ('NNCLR − SimCLR at the same temperature (0.2)', 'temp0.2', 'simclr'),
    ('NNCLR without − with the default warm-up', 'warmup0', 'nnclr'),
]


def causes(results: List[Dict], budget: int) -> List[str]:
    """The ``cause`` group against each method's default run of the same
    seed, and NNCLR − SimCLR at the same temperature."""
    runs = [r for r in results if r['group'] == 'cause']
    if not runs:
        return []
    lines = [
        '### Temperature and warm-up', '',
        "SimCLR's stock head uses temperature 0.2 and NNCLR the paper's "
        '0.1; each is run with the other\'s. NNCLR\'s support set uses the '
        "view's own projection as the positive for the first 10 % of "
        'iterations by default (`SupportSetQueueHook.warmup_iters`); it is '
        'run without and with 30 %. Δ is against the same method\'s '
        'default run of the same seed.', '',
        '| method | variant | seed | setting | kNN top-1 | Δ kNN | '
        'probe top-1 | Δ probe |', '|---|---|---|---|---|---|---|---|'
    ]
    for r in sorted(runs, key=lambda r: (r['method'], r['variant'],
                                         r['seed'])):
        ref = [d for d in runs_of(results, 'main', r['method'], iters=budget)
               if d['seed'] == r['seed']]
        delta = ['—', '—'] if not ref else [
            f'{r[k] - ref[0][k]:+.2f}' for k in ('knn_top1', 'probe_top1')]
        setting = ', '.join(f'`{k}={v}`' for k, v in r['options'].items())
        lines.append(f'| {LABELS[r["method"]]} | {r["variant"]} | '
                     f'{r["seed"]} | {setting} | {r["knn_top1"]:.2f} | '
                     f'{delta[0]} | {r["probe_top1"]:.2f} | {delta[1]} |')
    for text, variant, ref in CAUSE_PAIRS:
        a = runs_of(results, 'cause', 'nnclr', variant, iters=budget)
        b = runs_of(results, 'main', ref, iters=budget)
        if a and b:
            lines += ['', f'{text}, paired by seed: kNN ' +
                      paired_cell(a, b, 'knn_top1') + ', probe ' +
                      paired_cell(a, b, 'probe_top1') + '.']
    return lines + ['']


# The arms of the longer-budget table: (label, method, variant); the
# first is the reference of the gap table.
BUDGET_ARMS = [('SimCLR', 'simclr', 'default'), ('NNCLR', 'nnclr', 'default'),
               ('NNCLR at 0.2', 'nnclr', 'temp0.2')]


def _arms_by_budget(results: List[Dict],
                    budget: int) -> Dict[int, Dict[str, List[Dict]]]:
    """``{iters: {arm label: runs}}`` of the ``BUDGET_ARMS``."""
    runs: Dict[int, Dict[str, List[Dict]]] = {}
    for label, method, variant in BUDGET_ARMS:
        # The standard budget's runs live in ``main`` (defaults) and
        # ``cause`` (other temperature).
        ref = runs_of(results, 'main', method, variant, iters=budget) + \
            runs_of(results, 'cause', method, variant, iters=budget)
        for r in ref + runs_of(results, 'long', method, variant):
            runs.setdefault(r['iters'], {}).setdefault(label, []).append(r)
    return runs


def budgets(results: List[Dict], base: Dict, budget: int) -> List[str]:
    """SimCLR, NNCLR and NNCLR at SimCLR's temperature by budget: mean ±
    std over the seeds run, the margin over raw pixels and the paired
    gaps to SimCLR."""
    if not any(r['group'] == 'long' for r in results):
        return []
    rows, gaps = [], []
    for iters, arms in sorted(_arms_by_budget(results, budget).items()):
        for label, _, _ in BUDGET_ARMS:
            group = sorted(arms.get(label, []), key=lambda r: r['seed'])
            if not group:
                continue
            cells = []
            for key in ('knn_top1', 'probe_top1'):
                values = [r[key] for r in group]
                cells += [seeds_cell(values),
                          margin_cell(statistics.mean(values), base, key)]
            rows.append(f'| {label} | {iters} | {len(group)} | ' +
                        ' | '.join(cells) + ' |')
        reference = arms.get(BUDGET_ARMS[0][0], [])
        gaps.append(f'| {iters} | ' + ' | '.join(
            paired_cell(arms.get(label, []), reference, key)
            for label, _, _ in BUDGET_ARMS[1:]
            for key in ('knn_top1', 'probe_top1')) + ' |')
    return [
        '### Longer budget', '',
        'SimCLR and NNCLR at 2x (seed 0) and 4x the budget, with the '
        'standard budget\'s runs for reference; "NNCLR at 0.2" is NNCLR at '
        'the bench SimCLR\'s temperature (see "Temperature and warm-up" '
        'above). "− raw pixels" is the mean\'s margin over the raw-pixel '
        'baseline.', '',
        '| method | iterations | seeds | kNN top-1 | kNN − raw pixels | '
        'probe top-1 | probe − raw pixels |',
        '|---|---|---|---|---|---|---|'
    ] + rows + [
        '', 'Gaps to SimCLR by budget (paired by seed; — where an arm has '
        'no run at that budget):', '',
        '| iterations | NNCLR − SimCLR kNN | NNCLR − SimCLR probe | '
        'NNCLR at 0.2 − SimCLR kNN | NNCLR at 0.2 − SimCLR probe |',
        '|---|---|---|---|---|'
    ] + gaps + ['']


def snclr_variants(results: List[Dict], budget: int) -> List[str]:
    """SNCLR variants (seed 0) with the default run first: figures and
    the final positiveness diagnostics."""
    variants = [r for r in results if r['group'] == 'snclr']
    if not variants:
        return []
    lines = ['### SNCLR variants (seed 0)', '',
             'Final values of the logged diagnostics: mean largest '
             'weight (uniform 1/K = 0.033), share of the K candidates '
             "of the query's class, and share of the positiveness "
             "weight on them (the weights help only where it is above "
             "the plain share; — where the run predates the "
             'diagnostic).', '',
             '| variant | kNN top-1 | probe top-1 | mean max weight | '
             'candidates of query class | weight on query class |',
             '|---|---|---|---|---|---|']
    default = [r for r in runs_of(results, 'main', 'snclr', iters=budget)
               if r['seed'] == 0]
    for r in default + variants:
        cells = []
        for key, fmt in (('positiveness_max', '{:.4f}'),
                         ('candidate_label_agreement', '{:.1%}'),
                         ('weighted_label_agreement', '{:.1%}')):
            value = last_value(r, f'support_set/{key}')
            cells.append('—' if value is None else fmt.format(value))
        lines.append(f'| {r["variant"]} | {r["knn_top1"]:.2f} | '
                     f'{r["probe_top1"]:.2f} | ' + ' | '.join(cells) + ' |')
    return lines + ['']
