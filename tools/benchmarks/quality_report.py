"""Baselines and the generated ``docs/benchmarks.md`` of the quality benchmark.

Used by ``quality.py``; every figure written here comes from the runs'
``result.json`` files or from ``baselines.json``, both produced by scripts.
"""
import json
import os
import os.path as osp
import statistics
from typing import Dict, List, Optional, Tuple

import torch

from benchmark_docs import machine_kind, write_section

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LABELS = {
    'simclr': 'SimCLR',
    'nnclr': 'NNCLR',
    'mocov3': 'MoCo v3',
    'snclr': 'SNCLR',
    'byol': 'BYOL',
    'nn-byol': 'NN-BYOL',
    'lightly-nnclr': "lightly's NNCLR",
}
PAIRS = [('nnclr', 'simclr'), ('snclr', 'mocov3'), ('snclr', 'nnclr'),
         ('nn-byol', 'byol'), ('nnclr', 'lightly-nnclr')]


def baselines(cache_dir: str, config: str) -> Dict:
    """kNN and probe of raw pixels and of a random-init backbone (cached)."""
    path = osp.join(cache_dir, 'baselines.json')
    if osp.isfile(path):
        with open(path) as f:
            return json.load(f)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmpretrain.registry import MODELS

    import nnclr_plugin  # noqa: F401  (registers the components)
    from nnclr_plugin.evaluation import (extract_backbone_features,
                                         knn_accuracy, linear_probe)
    cfg = Config.fromfile(osp.join(REPO, config))
    init_default_scope('mmpretrain')
    knn_hook = [h for h in cfg.custom_hooks if h['type'] == 'KNNEvalHook'][0]
    loaders = [
        Runner.build_dataloader(knn_hook[k])
        for k in ('train_dataloader', 'val_dataloader')
    ]
    out = {}
    mean, std = cfg.model.data_preprocessor.mean[0], \
        cfg.model.data_preprocessor.std[0]
    pixels = []
    for loader in loaders:
        feats, labels = [], []
        for data in loader:
            feats.append((data['inputs'].float().flatten(1) - mean) / std)
            labels.append(
                torch.cat([s.gt_label.view(-1) for s in data['data_samples']]))
        pixels.append((torch.cat(feats), torch.cat(labels)))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel('WARNING')  # no init table
    model.init_weights()
    random_init = [extract_backbone_features(model, loader)
                   for loader in loaders]
    for name, ((tr, trl), (te, tel)) in (('raw pixels', pixels),
                                         ('random-init backbone',
                                          random_init)):
        knn = knn_accuracy(tr, trl, te, tel)
        probe = linear_probe(tr, trl, te, tel)
        out[name] = dict(knn_top1=knn['top1'], probe_top1=probe['top1'],
                         dims=tr.shape[1])
    out['machine'] = machine_kind()
    os.makedirs(cache_dir, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(out, f, indent=1)
    return out


def _stats(values: List[float]) -> Tuple[float, float]:
    mean = statistics.mean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def _fmt(values: List[float]) -> str:
    if not values:
        return '—'
    mean, std = _stats(values)
    if len(values) == 1:
        return f'{mean:.2f} (1 seed)'
    return f'{mean:.2f} ± {std:.2f}'


def _by(results: List[Dict], group: str, method: str,
        variant: str = 'default', iters: Optional[int] = None) -> List[Dict]:
    return sorted([
        r for r in results if r['method'] == method
        and r['variant'] == variant and (iters is None or r['iters'] == iters)
        and (r['group'] == group or (group == 'main' and r['group'] in (
            'main', 'peer')))
    ], key=lambda r: r['seed'])


def _paired(a: List[Dict], b: List[Dict], key: str) -> str:
    seeds = sorted({r['seed'] for r in a} & {r['seed'] for r in b})
    if not seeds:
        return '—'
    diffs = [
        [r[key] for r in a if r['seed'] == s][0] -
        [r[key] for r in b if r['seed'] == s][0] for s in seeds
    ]
    mean, std = _stats(diffs)
    return (f'{mean:+.2f} ± {std:.2f} ({len(seeds)} seeds)'
            if len(seeds) > 1 else f'{mean:+.2f} (1 seed)')


def _curve(result: Dict, root: str) -> List[List[float]]:
    """``[[iter, kNN top-1], ...]`` on the hook's fixed subsets."""
    history = result.get('history')
    if history is None:
        path = osp.join(root, result['key'], 'knn_history.json')
        if not osp.isfile(path):
            return result['curve']
        with open(path) as f:
            history = json.load(f)
    return [[h['iter'], h['knn/top1']] for h in history if not h['final']]


def _plot(results: List[Dict], budget: int, docs: str,
          root: str) -> List[str]:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    written = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in LABELS:
        runs = _by(results, 'main', method, iters=budget)
        if not runs:
            continue
        points: Dict[int, List[float]] = {}
        for r in runs:
            for it, value in _curve(r, root):
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
    path = osp.join(docs, 'benchmarks_knn_curves.png')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for method in ('nnclr', 'snclr', 'nn-byol'):
        runs = _by(results, 'main', method, iters=budget)
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
    for i, r in enumerate(_by(results, 'main', 'snclr', iters=budget)):
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
    path = osp.join(docs, 'benchmarks_nn_agreement.png')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def _last(r: Dict, key: str) -> Optional[float]:
    pts = r['scalars'].get(key, [])
    return pts[-1][1] if pts else None


def _margin(value: float, base: Dict, key: str) -> str:
    """``value`` minus the raw-pixel baseline's ``key``, or — if absent."""
    pixels = base.get('raw pixels', {})
    return '—' if key not in pixels else f'{value - pixels[key]:+.2f}'


def _render_causes(results: List[Dict], budget: int) -> List[str]:
    """The ``cause`` group against each method's default run of the same
    seed, and NNCLR − SimCLR at the same temperature."""
    causes = [r for r in results if r['group'] == 'cause']
    if not causes:
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
    for r in sorted(causes, key=lambda r: (r['method'], r['variant'],
                                           r['seed'])):
        ref = [d for d in _by(results, 'main', r['method'], iters=budget)
               if d['seed'] == r['seed']]
        delta = ['—', '—'] if not ref else [
            f'{r[k] - ref[0][k]:+.2f}' for k in ('knn_top1', 'probe_top1')]
        setting = ', '.join(f'`{k}={v}`' for k, v in r['options'].items())
        lines.append(f'| {LABELS[r["method"]]} | {r["variant"]} | '
                     f'{r["seed"]} | {setting} | {r["knn_top1"]:.2f} | '
                     f'{delta[0]} | {r["probe_top1"]:.2f} | {delta[1]} |')
    # (text, variant, reference method): NNCLR variants paired by seed.
    for text, variant, ref in (
            ('NNCLR − SimCLR at the same temperature (0.2)', 'temp0.2',
             'simclr'),
            ('NNCLR without − with the default warm-up', 'warmup0', 'nnclr')):
        a = _by(results, 'cause', 'nnclr', variant, iters=budget)
        b = _by(results, 'main', ref, iters=budget)
        if a and b:
            lines += ['', f'{text}, paired by seed: kNN ' +
                      _paired(a, b, 'knn_top1') + ', probe ' +
                      _paired(a, b, 'probe_top1') + '.']
    return lines + ['']


# The arms of the longer-budget table: (label, method, variant); the
# first is the reference of the gap table.
BUDGET_ARMS = [('SimCLR', 'simclr', 'default'), ('NNCLR', 'nnclr', 'default'),
               ('NNCLR at 0.2', 'nnclr', 'temp0.2')]


def _render_budgets(results: List[Dict], base: Dict,
                    budget: int) -> List[str]:
    """SimCLR, NNCLR and NNCLR at SimCLR's temperature by budget: mean ±
    std over the seeds run, the margin over raw pixels and the paired
    gaps to SimCLR."""
    if not any(r['group'] == 'long' for r in results):
        return []
    runs: Dict[int, Dict[str, List[Dict]]] = {}
    for label, method, variant in BUDGET_ARMS:
        # The standard budget's runs live in ``main`` (defaults) and
        # ``cause`` (other temperature).
        ref = _by(results, 'main', method, variant, iters=budget) + \
            _by(results, 'cause', method, variant, iters=budget)
        for r in ref + _by(results, 'long', method, variant):
            runs.setdefault(r['iters'], {}).setdefault(label, []).append(r)
    rows, gaps = [], []
    for iters, arms in sorted(runs.items()):
        for label, _, _ in BUDGET_ARMS:
            group = sorted(arms.get(label, []), key=lambda r: r['seed'])
            if not group:
                continue
            cells = []
            for key in ('knn_top1', 'probe_top1'):
                values = [r[key] for r in group]
                cells += [_fmt(values),
                          _margin(statistics.mean(values), base, key)]
            rows.append(f'| {label} | {iters} | {len(group)} | ' +
                        ' | '.join(cells) + ' |')
        reference = arms.get(BUDGET_ARMS[0][0], [])
        gaps.append(f'| {iters} | ' + ' | '.join(
            _paired(arms.get(label, []), reference, key)
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


def render(results: List[Dict], base: Dict, budget: int,
           gpu_results: Optional[List[Dict]] = None) -> str:
    """The markdown of the quality section (the GPU runs' table, if any,
    before the commands, which belong to the CPU runs)."""
    lines = ['']
    machine = results[0].get('machine') if results else None
    lines += [
        '## Quality: Fashion-MNIST, kNN and linear probe',
        '',
        'Generated by `python tools/benchmarks/quality.py` (the tables and '
        'plots are rewritten from `docs/results/quality/*.json` after '
        'every run; `--report` rewrites them only). Machine: '
        f'{machine or machine_kind()}. Every run trains through the Runner '
        'on a `configs/bench/` config: quarter-width CIFAR ResNet-18 '
        '(0.7 M parameters, 128-d features) at 28 px, two views made on '
        'the batch by `BatchMultiViewPreprocessor` (random resized crop '
        '0.2-1, flip, brightness/contrast 0.4 with p 0.8), batch 256, SGD '
        'lr 0.5 momentum 0.9 wd 5e-4, 10 % linear warm-up then cosine, '
        f'{budget} iterations ({budget * 256 / 60000:.1f} epochs). '
        'kNN: weighted, k 200, T 0.07, cosine, all 60k train images as '
        'memory and all 10k test images as queries. Linear probe: '
        'L2-regularised logistic regression (L-BFGS) on standardised '
        'frozen features, penalty chosen on a seeded 10 % of train, '
        'refitted on all of train, scored on test. Mean ± std over seeds.',
        ''
    ]
    lines += ['### Results', '',
              '| method | seeds | kNN top-1 | linear probe top-1 | '
              'wall per run (s, median; shared machine, not a speed '
              'figure) |', '|---|---|---|---|---|']
    for name in ('raw pixels', 'random-init backbone'):
        if name in base:
            lines.append(f'| {name} ({base[name]["dims"]}-d) | — | '
                         f'{base[name]["knn_top1"]:.2f} | '
                         f'{base[name]["probe_top1"]:.2f} | — |')
    for method, label in LABELS.items():
        runs = _by(results, 'main', method, iters=budget)
        if not runs:
            continue
        walls = [r['wall_s'] for r in runs]
        lines.append(
            f'| {label} | {len(runs)} | '
            f'{_fmt([r["knn_top1"] for r in runs])} | '
            f'{_fmt([r["probe_top1"] for r in runs])} | '
            f'{statistics.median(walls):.0f} |')
    simclr = _by(results, 'main', 'simclr', iters=budget)
    if simclr and 'raw pixels' in base:
        verdict = []
        for key, label in (('knn_top1', 'kNN'), ('probe_top1', 'probe')):
            gap = statistics.mean(r[key] for r in simclr) - max(
                base[n][key] for n in ('raw pixels', 'random-init backbone'))
            verdict.append(f'{label} {gap:+.2f} pt')
        lines += ['', 'SimCLR minus the better of the two baselines: ' +
                  ', '.join(verdict) + '. A budget at which SimCLR does not '
                  'clearly beat raw pixels cannot rank the methods; see '
                  '"Longer budget" and "On a GPU" below.']
    lines += ['', 'Differences (paired by seed, mean ± std of the per-seed '
              'differences):', '',
              '| comparison | kNN top-1 | linear probe top-1 |',
              '|---|---|---|']
    # The stock pairs, then NNCLR at SimCLR's temperature (``cause``).
    rows = [(f'{LABELS[a]} − {LABELS[b]}', _by(results, 'main', a,
                                                 iters=budget),
             _by(results, 'main', b, iters=budget)) for a, b in PAIRS]
    same_t = _by(results, 'cause', 'nnclr', 'temp0.2', iters=budget)
    simclr = _by(results, 'main', 'simclr', iters=budget)
    rows.append(('NNCLR at temperature 0.2 − SimCLR', same_t, simclr))
    for label, ra, rb in rows:
        if ra and rb:
            lines.append(f'| {label} | {_paired(ra, rb, "knn_top1")} | '
                         f'{_paired(ra, rb, "probe_top1")} |')
    if same_t and simclr:
        lines += ['', 'Each method runs at its own default temperature: '
                  "SimCLR at mmpretrain's stock 0.2, NNCLR at the paper's "
                  '0.1. The last row puts NNCLR at 0.2 (see "Temperature '
                  'and warm-up" below).']
    lines += ['', "lightly's NNCLR (`LightlyNNCLR`, same backbone, MLPs, views, "
              'optimiser, schedule and seeds) differs from ours in three '
              "places: lightly's `NTXentLoss` scores each of the 2N "
              'embeddings (N neighbours, N predictions) against the other '
              '2N − 1, i.e. 2N − 2 negatives per row where '
              '`NNContrastiveLoss` uses the N − 1 other predictions; its '
              'memory bank starts as random unit vectors instead of empty; '
              'and it has no warm-up (our `SupportSetQueueHook` uses the '
              "view's own projection for the first 10 % of iterations).", '']
    lines += ['', '![kNN curves](benchmarks_knn_curves.png)', '',
              '![NN agreement](benchmarks_nn_agreement.png)', '']
    snclr = _by(results, 'main', 'snclr', iters=budget)
    if snclr:
        pmax = [_last(r, 'support_set/positiveness_max') for r in snclr]
        ent = [_last(r, 'support_set/positiveness_entropy') for r in snclr]
        pmax = [v for v in pmax if v is not None]
        ent = [v for v in ent if v is not None]
        if pmax:
            lines += [
                'SNCLR positiveness weights at the end of training (K = 30, '
                'uniform = 0.033): mean largest weight '
                f'{statistics.mean(pmax):.4f}' +
                (f', entropy / log K {statistics.mean(ent):.4f}'
                 if ent else '') + '.', ''
            ]

    crop_rows = []
    for method in ('simclr', 'nnclr'):
        full = _by(results, 'main', method, iters=budget)
        crop = _by(results, 'crop', method, 'crop-only', iters=budget)
        if full and crop:
            row = f'| {LABELS[method]} | {len(crop)} |'
            for key in ('knn_top1', 'probe_top1'):
                f_mean = statistics.mean(r[key] for r in full)
                c_mean = statistics.mean(r[key] for r in crop)
                row += (f' {_fmt([r[key] for r in full])} | '
                        f'{_fmt([r[key] for r in crop])} | '
                        f'{100 * (f_mean - c_mean) / f_mean:.2f} % |')
            crop_rows.append(row)
    if crop_rows:
        lines += [
            '### Crop-only ablation', '',
            'Views with random resized crop + flip only '
            '(`model.data_preprocessor.jitter_prob=0`), same budget and '
            'seeds. Relative drop = (full − crop-only) / full.', '',
            '| method | seeds | kNN full | kNN crop-only | kNN rel. drop | '
            'probe full | probe crop-only | probe rel. drop |',
            '|---|---|---|---|---|---|---|---|'
        ] + crop_rows + ['']

    sweep = [(r, 4096) for r in _by(results, 'main', 'nnclr', iters=budget)
             if r['seed'] == 0]
    sweep += [(r, r['options']['model.head.queue.size']) for r in results
              if r['group'] == 'queue' and r['iters'] == budget]
    if len(sweep) > 1:
        lines += [
            '### Support-set size (NNCLR, seed 0)', '',
            '| queue rows | share of train set | kNN top-1 | probe top-1 | '
            'final NN label agreement |', '|---|---|---|---|---|'
        ]
        for r, q in sorted(sweep, key=lambda x: x[1]):
            agree = _last(r, 'support_set/nn_label_agreement')
            lines.append(f'| {q} | {100 * q / 60000:.1f} % | '
                         f'{r["knn_top1"]:.2f} | {r["probe_top1"]:.2f} | '
                         f'{"—" if agree is None else f"{agree:.3f}"} |')
        lines.append('')
    topk = [r for r in results if r['group'] == 'topk'
            and r['iters'] == budget]
    base0 = [r for r in _by(results, 'main', 'nnclr', iters=budget)
             if r['seed'] == 0]
    if topk and base0:
        lines += ['### Top-k positives (NNCLR, seed 0)', '',
                  '| k | mode | kNN top-1 | probe top-1 |', '|---|---|---|---|',
                  f'| 1 | — | {base0[0]["knn_top1"]:.2f} | '
                  f'{base0[0]["probe_top1"]:.2f} |']
        for r in topk:
            lines.append(f'| {r["options"]["model.head.k"]} | '
                         f'{r["options"]["model.head.topk_mode"]} | '
                         f'{r["knn_top1"]:.2f} | {r["probe_top1"]:.2f} |')
        lines.append('')
    lines += _render_causes(results, budget)
    lines += _render_budgets(results, base, budget)
    variants = [r for r in results if r['group'] == 'snclr']
    if variants:
        lines += ['### SNCLR variants (seed 0)', '',
                  'Final values of the logged diagnostics: mean largest '
                  'weight (uniform 1/K = 0.033), share of the K candidates '
                  "of the query's class, and share of the positiveness "
                  "weight on them (the weights help only where it is above "
                  "the plain share; — where the run predates the "
                  'diagnostic).', '',
                  '| variant | kNN top-1 | probe top-1 | mean max weight | '
                  'candidates of query class | weight on query class |',
                  '|---|---|---|---|---|---|']
        for r in [r for r in snclr if r['seed'] == 0] + variants:
            cells = []
            for key, fmt in (('positiveness_max', '{:.4f}'),
                             ('candidate_label_agreement', '{:.1%}'),
                             ('weighted_label_agreement', '{:.1%}')):
                value = _last(r, f'support_set/{key}')
                cells.append('—' if value is None else fmt.format(value))
            lines.append(f'| {r["variant"]} | {r["knn_top1"]:.2f} | '
                         f'{r["probe_top1"]:.2f} | ' + ' | '.join(cells) +
                         ' |')
        lines.append('')
    gpu = render_gpu(gpu_results or [], base, budget)
    if gpu:
        lines += [gpu]
    lines += ['### Commands of the runs', '',
              'Each run is `tools/train.py` with the options below (see '
              '`command` in its `result.json`); for example:', '']
    for r in results[:1]:
        lines += ['```', r['command'], '```', '']
    return '\n'.join(lines)


def render_gpu(results: List[Dict], base: Dict, budget: int) -> str:
    """The markdown of the GPU (longer-budget) runs, or '' if none."""
    if not results:
        return ''
    machines = sorted({r['machine'] for r in results})
    lines = [
        f'### On a GPU: {results[0]["iters"] // budget}x the budget', '',
        '`python tools/benchmarks/quality.py --gpu --methods simclr nnclr '
        '--seeds 0` on the lent GPU machine (after `make gpu-check` set it '
        'up), results in `docs/results/quality_gpu/`. Machine: ' +
        '; '.join(machines) + '. Same configs, data, kNN and probe as '
        'above, only longer. The curve is kNN top-1 on the hook\'s fixed '
        '10k / 5k subsets; the final figures use all 60k / 10k.', '',
        '| method | seed | iterations | epochs | kNN top-1 | kNN − raw '
        'pixels | probe top-1 | probe − raw pixels | kNN curve (subsets) |',
        '|---|---|---|---|---|---|---|---|---|'
    ]
    for r in sorted(results, key=lambda r: (r['method'] != 'simclr',
                                             r['method'], r['seed'])):
        curve = ', '.join(f'{v:.1f}' for _, v in r['curve'])
        over = {k: _margin(r[k], base, k) for k in ('knn_top1', 'probe_top1')}
        lines.append(
            f'| {LABELS[r["method"]]} | {r["seed"]} | {r["iters"]} | '
            f'{r["iters"] * 256 / 60000:.1f} | {r["knn_top1"]:.2f} | '
            f'{over["knn_top1"]} | {r["probe_top1"]:.2f} | '
            f'{over["probe_top1"]} | {curve} |')
    pairs = []
    for seed in sorted({r['seed'] for r in results}):
        pair = {r['method']: r for r in results if r['seed'] == seed}
        if 'nnclr' in pair and 'simclr' in pair:
            gap = {k: pair['nnclr'][k] - pair['simclr'][k]
                   for k in ('knn_top1', 'probe_top1')}
            pairs.append(f'seed {seed}: kNN {gap["knn_top1"]:+.2f}, probe '
                         f'{gap["probe_top1"]:+.2f}')
    if pairs:
        lines += ['', 'NNCLR − SimCLR on the GPU: ' + '; '.join(pairs) + '.']
    return '\n'.join(lines + [''])


def write_report(results: List[Dict], docs: str, root: str,
                 gpu_results: Optional[List[Dict]] = None) -> str:
    """Write the quality section and plots into ``docs/benchmarks.md``."""
    from quality import BENCH, BUDGET
    os.makedirs(docs, exist_ok=True)
    base = baselines(osp.join(docs, 'results'), BENCH.format('simclr'))
    if results:
        _plot(results, BUDGET, docs, root)
    return write_section('quality',
                         render(results, base, BUDGET, gpu_results), docs)
