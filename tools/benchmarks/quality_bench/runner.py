"""Train one run of the plan through ``tools/train.py`` and keep its result.

Each run is a subprocess of the normal Runner on its ``configs/bench/``
config (one at a time: the runs share the machine), resumed from its last
checkpoint if an earlier call was interrupted. The result is the final
figures of the ``KNNEvalHook`` (``knn_history.json``), the logged scalars
and the command, stored by ``results.keep_result``.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List

from ..benchmark_docs import REPO
from .plan import (
    TYPED_LISTS,
    WARMUP,
    WARMUP_SHARE,
    budget_options,
    hook_option,
)
from .results import curve_of, keep_result

# The support-set diagnostics and the loss, kept with each result.
SCALARS = [
    'support_set/nn_label_agreement', 'support_set/positiveness_max',
    'support_set/positiveness_entropy',
    'support_set/candidate_label_agreement',
    'support_set/weighted_label_agreement', 'loss'
]
_TYPES: Dict[str, Dict[str, List[str]]] = {}


def entry_types(config: str) -> Dict[str, List[str]]:
    """Types of the entries of a config's :data:`plan.TYPED_LISTS`, in
    order (read once per config)."""
    if config not in _TYPES:
        from mmengine.config import Config
        cfg = Config.fromfile(osp.join(REPO, config))
        _TYPES[config] = {key: [e['type'] for e in cfg.get(key, [])]
                          for key in TYPED_LISTS}
    return _TYPES[config]


def resolve_types(options: Dict, types: Dict[str, List[str]],
                  config: str) -> Dict:
    """Turn ``plan.by_type`` keys into mmengine's positional ones.

    Args:
        options (dict): Overrides; keys made by ``plan.by_type``
            (``<list>.<type>.<option>``) are resolved, others kept.
        types (dict): The config's entry types per list, in order
            (:func:`entry_types`).
        config (str): The config's path, for the error message.

    Returns:
        dict: The same overrides in the same order, entries by index.
    """
    resolved = {}
    for key, value in options.items():
        parts = key.split('.', 2)
        if parts[0] in TYPED_LISTS and not parts[1].isdigit():
            listed = types.get(parts[0], [])
            if listed.count(parts[1]) != 1:
                raise ValueError(
                    f'{key}: {config} has {listed.count(parts[1])} entries '
                    f'of type {parts[1]} in {parts[0]} (types: {listed}); '
                    'an override by type needs exactly one')
            key = f'{parts[0]}.{listed.index(parts[1])}.{parts[2]}'
        resolved[key] = value
    return resolved


def train_command(run: Dict, work_dir: str, quick: bool) -> List[str]:
    """The ``tools/train.py`` command line of ``run``.

    Args:
        run (dict): A ``plan.run_spec``.
        work_dir (str): The run's work dir.
        quick (bool): Small training and evaluation subsets (``--quick``).

    Returns:
        list[str]: The command, ``sys.executable`` first.
    """
    types = entry_types(run['config'])
    options = budget_options(run['iters'])
    options['randomness.seed'] = run['seed']
    if 'SupportSetQueueHook' in types['custom_hooks']:
        options[WARMUP] = int(round(WARMUP_SHARE * run['iters']))
    # Eight points on the kNN curve, whatever the budget.
    options[hook_option('KNNEvalHook', 'interval')] = max(
        1, run['iters'] // 8)
    if quick:
        # Small eval sets keep the quick check within minutes.
        for option, value in (('train_dataloader.dataset.indices', 5000),
                              ('val_dataloader.dataset.indices', 2000),
                              ('num_train', 2000), ('num_val', 1000)):
            options[hook_option('KNNEvalHook', option)] = value
        options['train_dataloader.dataset.indices'] = 10000
    options.update(run['options'])
    options = resolve_types(options, types, run['config'])
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'),
           osp.join(REPO, run['config']), '--work-dir', work_dir]
    return cmd + ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]


def read_scalars(work_dir: str, keys: List[str]) -> Dict[str, List]:
    """``{key: [[iter, value], ...]}`` from the run's ``scalars.json``.

    Each start of a run (the first, a resume, a restart after an
    interruption) logs into its own timestamped folder; for each key, a
    later start supersedes what earlier ones logged from its first step
    of that key on.
    """
    out = {k: [] for k in keys}
    folders = sorted(root for root, _, files in os.walk(work_dir)
                     if 'scalars.json' in files and root.endswith('vis_data'))
    for root in folders:
        with open(osp.join(root, 'scalars.json')) as f:
            records = [json.loads(line) for line in f if line.strip()]
        for k in keys:
            points = [[rec['step'], rec[k]] for rec in records if k in rec]
            if points:
                first = min(p[0] for p in points)
                out[k] = [p for p in out[k] if p[0] < first] + points
    return out


def execute(run: Dict, root: str, quick: bool, machine: str,
            results_dir: str) -> Dict:
    """Train one run unless its result exists; return its result.

    Args:
        run (dict): A ``plan.run_spec``.
        root (str): Folder of the work dirs; the run's is ``root/key``.
        quick (bool): See ``train_command``.
        machine (str): The machine, as the docs name it.
        results_dir (str): Where the result is stored (and looked up).

    Returns:
        dict: The run's fields plus the figures, curve, scalars, time and
        command.

    Raises:
        RuntimeError: If training fails; the message names the log.
    """
    work_dir = osp.join(root, run['key'])
    kept = osp.join(results_dir, run['key'] + '.json')
    if osp.isfile(kept):
        with open(kept) as f:
            return json.load(f)
    os.makedirs(work_dir, exist_ok=True)
    cmd = train_command(run, work_dir, quick)
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        cmd.append('--resume')
    start = time.time()
    with open(osp.join(work_dir, 'train.log'), 'a') as log:
        proc = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=log,
                              env=dict(os.environ, PYTHONWARNINGS='ignore'))
    if proc.returncode != 0:
        raise RuntimeError(f'{run["key"]} failed (exit {proc.returncode}); '
                           f'see {osp.join(work_dir, "train.log")}')
    with open(osp.join(work_dir, 'knn_history.json')) as f:
        history = json.load(f)
    final = [h for h in history if h['final']][-1]
    result = dict(
        run,
        knn_top1=final['knn/top1'],
        knn_top5=final['knn/top5'],
        probe_top1=final.get('probe/top1'),
        probe_weight_decay=final.get('probe/weight_decay'),
        # On the hook's fixed subsets; the final full-set figures are above.
        curve=curve_of(history),
        history=history,
        scalars=read_scalars(work_dir, SCALARS),
        wall_s=time.time() - start,
        quick=quick,
        command=' '.join(osp.relpath(c, REPO) if c.startswith(REPO) else c
                         for c in cmd),
        machine=machine)
    with open(osp.join(work_dir, 'result.json'), 'w') as f:
        json.dump(result, f, indent=1)
    keep_result(result, results_dir)
    return result
