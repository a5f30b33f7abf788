"""The campaign plan: which runs the quality benchmark makes, and how long.

A run is a plain dict (``run_spec``): method, seed, variant, the
``configs/bench/`` config, config overrides and the budget in iterations;
its ``key`` names its work dir and its stored result. Nothing here reads a
config or starts a process, so the plan can be listed and tested cheaply.

Groups of runs (``campaign``, in the order of ``GROUPS``):

* ``main``: SimCLR, NNCLR, MoCo v3, SNCLR, BYOL, NN-BYOL, seeds 0 1 2.
* ``peer``: lightly's NNCLR (``NNMemoryBankModule`` + ``NTXentLoss``) on
  the same everything, seeds 0 1 2 (needs ``requirements/benchmark.txt``).
* ``crop``: SimCLR and NNCLR with crop + flip only, seeds 0 1 2.
* ``queue``: NNCLR support-set size sweep, seed 0.
* ``topk``: NNCLR with k = 5 (mean and sample modes), seed 0.
* ``long``: SimCLR and NNCLR at twice (seed 0) and four times (every
  seed) the budget, and NNCLR at SimCLR's temperature at four times.
* ``cause``: NNCLR at SimCLR's temperature and without support-set
  warm-up (every seed), SimCLR at NNCLR's temperature and NNCLR with a
  longer warm-up (seed 0).
* ``snclr``: SNCLR variants (sharper / detached / learnable
  positiveness), seed 0.
"""
import functools
from typing import Callable, Dict, List, Optional

BENCH = 'configs/bench/{}_resnet18-c16_1xb256-coslr-1000it_fashion-mnist.py'
METHODS = ['simclr', 'nnclr', 'mocov3', 'snclr', 'byol', 'nn-byol']
BUDGET = 1000  # iterations of batch 256 (4.3 epochs)
WARMUP_SHARE = 0.1
QUEUE_SIZES = [512, 2048, 4096, 16384, 32768]
DEFAULT_QUEUE = 4096
# ``--gpu``: the same runs at GPU_FACTOR x the budget, kept apart.
GPU_FACTOR = 10
# NNCLR at the temperature of the bench SimCLR (mmpretrain's stock 0.2).
SAME_TEMP = {'model.head.loss.temperature': 0.2}


# Config lists whose entries the plan addresses by type (see by_type).
TYPED_LISTS = ('custom_hooks', 'param_scheduler')


def by_type(list_key: str, entry_type: str, option: str) -> str:
    """The override key of ``option`` of the entry of ``entry_type`` in a
    config list (:data:`TYPED_LISTS`).

    Configs order their ``custom_hooks`` and ``param_scheduler`` in ways
    the plan should not depend on (SimCLR has no ``SupportSetQueueHook``,
    so its kNN hook is the first); the runner turns
    ``<list>.<type>.<option>`` into mmengine's ``<list>.<index>.<option>``
    for each config.

    Args:
        list_key (str): ``'custom_hooks'`` or ``'param_scheduler'``.
        entry_type (str): The entry's registered type, e.g.
            ``'SupportSetQueueHook'`` or ``'LinearLR'``.
        option (str): A dotted key inside the entry, e.g.
            ``'warmup_iters'`` or ``'val_dataloader.dataset.indices'``.

    Returns:
        str: e.g. ``'custom_hooks.SupportSetQueueHook.warmup_iters'``.
    """
    if list_key not in TYPED_LISTS:
        raise ValueError(f'by_type: {list_key!r} is not one of '
                         f'{TYPED_LISTS}')
    return f'{list_key}.{entry_type}.{option}'


def hook_option(hook_type: str, option: str) -> str:
    """:func:`by_type` for ``custom_hooks``."""
    return by_type('custom_hooks', hook_type, option)


WARMUP = hook_option('SupportSetQueueHook', 'warmup_iters')


def run_spec(group: str, method: str, seed: int, name: str = '',
             options: Optional[Dict] = None,
             iters: int = BUDGET) -> Dict:
    """One run: its config, seed, config overrides and budget."""
    variant = name or 'default'
    return dict(
        group=group,
        method=method,
        seed=seed,
        variant=variant,
        config=BENCH.format(method),
        options=dict(options or {}),
        iters=iters,
        key=f'{method}_{variant}_{iters}it_seed{seed}')


def _main(seeds: List[int]) -> List[Dict]:
    return [run_spec('main', m, s) for s in seeds for m in METHODS]


def _peer(seeds: List[int]) -> List[Dict]:
    return [run_spec('peer', 'lightly-nnclr', s) for s in seeds]


def _crop(seeds: List[int]) -> List[Dict]:
    crop = {'model.data_preprocessor.jitter_prob': 0.0}
    return [run_spec('crop', m, s, 'crop-only', crop)
            for s in seeds for m in ('simclr', 'nnclr')]


def _queue(seeds: List[int]) -> List[Dict]:
    return [run_spec('queue', 'nnclr', 0, f'queue{q}',
                     {'model.head.queue.size': q})
            for q in QUEUE_SIZES if q != DEFAULT_QUEUE]


def _topk(seeds: List[int]) -> List[Dict]:
    return [run_spec('topk', 'nnclr', 0, f'top5-{mode}',
                     {'model.head.k': 5, 'model.head.topk_mode': mode})
            for mode in ('mean', 'sample')]


def _long(seeds: List[int]) -> List[Dict]:
    # 2x for one seed (the shape of the curve), 4x for every seed: the
    # budget at which SimCLR clearly beats raw pixels.
    runs = [run_spec('long', m, 0, iters=2 * BUDGET)
            for m in ('simclr', 'nnclr')]
    runs += [run_spec('long', m, s, iters=4 * BUDGET)
             for s in seeds for m in ('simclr', 'nnclr')]
    # NNCLR at SimCLR's temperature too (see ``_cause``): whether the
    # like-for-like gap stays closed at the longer budget.
    return runs + [run_spec('long', 'nnclr', s, 'temp0.2', SAME_TEMP,
                            iters=4 * BUDGET) for s in seeds]


def _cause(seeds: List[int]) -> List[Dict]:
    # Settings that differ between NNCLR and SimCLR, or that only NNCLR
    # has: SimCLR's stock head uses temperature 0.2, NNCLR the paper's 0.1;
    # the support set's warm-up (10 %, the view's own projection as
    # positive) is ours, not the paper's. NNCLR at SimCLR's temperature
    # runs for every seed: it gives the like-for-like NNCLR - SimCLR
    # difference.
    runs = [run_spec('cause', 'nnclr', s, 'temp0.2', SAME_TEMP)
            for s in seeds]
    # Seed 0 without warm-up gained as much as the temperature did; every
    # seed tells that apart from seed 0's low default run.
    runs += [run_spec('cause', 'nnclr', s, 'warmup0', {WARMUP: 0})
             for s in seeds]
    return runs + [
        run_spec('cause', 'simclr', 0, 'temp0.1',
                 {'model.head.temperature': 0.1}),
        run_spec('cause', 'nnclr', 0, 'warmup30',
                 {WARMUP: int(0.3 * BUDGET)}),
    ]


def _snclr(seeds: List[int]) -> List[Dict]:
    return [
        # The release's logits are unscaled cosines, which keeps the
        # weights of 30 similar candidates near 1/K; a 0.1 temperature
        # (scale 10) tests whether peaked weights help.
        run_spec('snclr', 'snclr', 0, 'scale10',
                 {'model.head.positiveness.scale': 10.0}),
        run_spec('snclr', 'snclr', 0, 'detached',
                 {'model.head.detach_weights': True}),
        run_spec('snclr', 'snclr', 0, 'learnable',
                 {'model.head.positiveness.learnable': True,
                  'model.head.positiveness.num_heads': 1})
    ]


# Every group, in the default order of a campaign (most important first).
GROUPS: Dict[str, Callable[[List[int]], List[Dict]]] = {
    'main': _main,
    'peer': _peer,
    'crop': _crop,
    'queue': _queue,
    'topk': _topk,
    'long': _long,
    'cause': _cause,
    'snclr': _snclr,
}


def campaign(groups: List[str], seeds: List[int]) -> List[Dict]:
    """Every run of the chosen groups, in the order asked.

    Args:
        groups (list[str]): Names from ``GROUPS``.
        seeds (list[int]): The seeds of the groups that run every seed.

    Returns:
        list[dict]: ``run_spec`` dicts, each key once.
    """
    runs = []
    for group in groups:
        if group not in GROUPS:
            raise ValueError(f'unknown group {group!r}')
        runs += GROUPS[group](seeds)
    # A run asked for by two groups (e.g. the default queue size) runs once.
    seen, unique = set(), []
    for run in runs:
        if run['key'] not in seen:
            seen.add(run['key'])
            unique.append(run)
    return unique


def with_budget(runs: List[Dict], iters: int) -> List[Dict]:
    """The same runs at another budget (``--iters``), keys renamed."""
    return [dict(r, iters=iters,
                 key=r['key'].replace(f'_{r["iters"]}it_', f'_{iters}it_'))
            for r in runs]


def budget_options(iters: int) -> Dict:
    """Overrides that set the number of iterations and scale the warm-up.

    ``param_scheduler`` is the bench configs' linear warm-up and cosine
    decay, each found by type.
    """
    warmup = int(round(WARMUP_SHARE * iters))
    linear = functools.partial(by_type, 'param_scheduler', 'LinearLR')
    cosine = functools.partial(by_type, 'param_scheduler',
                               'CosineAnnealingLR')
    return {
        'train_cfg.max_iters': iters,
        linear('end'): warmup,
        cosine('begin'): warmup,
        cosine('T_max'): iters - warmup,
        cosine('end'): iters,
        # Runs longer than the standard budget keep a checkpoint every
        # BUDGET / 2 iterations, so an interrupted one resumes (bit-exact)
        # in the next session instead of starting over.
        'default_hooks.checkpoint.interval':
        iters if iters <= BUDGET else BUDGET // 2,
    }
