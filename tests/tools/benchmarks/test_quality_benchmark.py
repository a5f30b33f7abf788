"""The quality benchmark (tools/benchmarks/quality.py, package
tools/benchmarks/quality_bench): its layout, plan, runner and report.

The report tests render synthetic results and read the tables back
through ``tables``, so committing a result cannot break them.
"""
import ast
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List

import pytest
import torch
from helpers import REPO, requires_fmnist

from tools.benchmarks.quality_bench import (
    ablations,
    plan,
    report,
    runner,
    summary,
)

SCRIPT = osp.join(REPO, 'tools', 'benchmarks', 'quality.py')
PACKAGE = 'tools.benchmarks.quality_bench'
PACKAGE_DIR = osp.join(REPO, *PACKAGE.split('.'))
MODULES = sorted(name[:-3] for name in os.listdir(PACKAGE_DIR)
                 if name.endswith('.py') and name != '__init__.py')
BUDGET = plan.BUDGET


# ---------------------------------------------------------------- layout
def package_imports(module: str) -> set:
    """The package's modules that ``module`` imports (relative imports)."""
    with open(osp.join(PACKAGE_DIR, module + '.py')) as f:
        tree = ast.parse(f.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= ({node.module} if node.module else
                      {alias.name for alias in node.names})
    return found & set(MODULES)


def test_every_module_imports_alone_from_the_repository_root():
    """``python -c "import tools.benchmarks.quality_bench.<m>"`` works for
    each module in a fresh process, edits no ``sys.path`` and loads no
    mmengine (nothing is built at import)."""
    code = ('import sys; before = list(sys.path); import {}.{}; '
            'assert sys.path == before, sys.path; '
            "loaded = {{'mmengine', 'mmpretrain', 'nnclr_plugin'}} & "
            'set(sys.modules); assert not loaded, loaded')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    procs = {
        m: subprocess.Popen([sys.executable, '-c', code.format(PACKAGE, m)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
        for m in MODULES
    }
    failed = {m: p.communicate()[0] for m, p in procs.items()}
    assert {m: out for m, out in failed.items() if procs[m].returncode} == {}


def test_imports_go_one_way_and_the_report_builds_no_model():
    graph = {m: package_imports(m) for m in MODULES}
    assert graph['plan'] == set() and graph['cells'] == set()
    # Depth-first: a module seen again on the current path is a cycle.
    done = set()

    def visit(module: str, path: List[str]) -> None:
        assert module not in path, f'import cycle: {path + [module]}'
        if module not in done:
            for dep in graph[module]:
                visit(dep, path + [module])
            done.add(module)

    for module in MODULES:
        visit(module, [])

    def reach(module: str) -> set:
        deps = set(graph[module])
        for dep in graph[module]:
            deps |= reach(dep)
        return deps

    # Only the command line joins training, baselines and the report.
    assert not {'baselines', 'runner', 'cli'} & reach('report')
    assert not {'report', 'summary', 'ablations', 'cli'} & reach('runner')


# ------------------------------------------------------------------ plan
def test_campaign_plan_covers_the_issue_and_has_no_duplicates():
    runs = plan.campaign(list(plan.GROUPS), [0, 1, 2])
    keys = [r['key'] for r in runs]
    assert len(keys) == len(set(keys))
    main = {(r['method'], r['seed']) for r in runs if r['group'] == 'main'}
    assert main == {(m, s) for m in plan.METHODS for s in (0, 1, 2)}
    crop = [r for r in runs if r['group'] == 'crop']
    assert {r['method'] for r in crop} == {'simclr', 'nnclr'}
    assert all(r['options'] == {'model.data_preprocessor.jitter_prob': 0.0}
               for r in crop)
    # NNCLR at SimCLR's temperature: every seed at the standard and the 4x
    # budget, so both gaps are paired over the same seeds.
    same_t = {(r['iters'], r['seed']) for r in runs
              if r['variant'] == 'temp0.2'}
    assert same_t == {(i, s) for i in (BUDGET, 4 * BUDGET) for s in (0, 1, 2)}
    # Without warm-up too, every seed at the standard budget.
    assert {r['seed'] for r in runs if r['variant'] == 'warmup0'} == {0, 1, 2}
    # Every config the plan names exists.
    assert all(osp.isfile(osp.join(REPO, r['config'])) for r in runs)
    with pytest.raises(ValueError, match="unknown group 'mian'"):
        plan.campaign(['mian'], [0])


def test_budget_options_scale_the_schedule():
    options = plan.budget_options(2000)
    assert options['train_cfg.max_iters'] == 2000
    assert options['param_scheduler.LinearLR.end'] == 200
    assert options['param_scheduler.CosineAnnealingLR.T_max'] == 1800
    with pytest.raises(ValueError, match="'custom_hook' is not one of"):
        plan.by_type('custom_hook', 'KNNEvalHook', 'interval')


# ---------------------------------------------------------------- runner
def test_overrides_find_their_hook_and_scheduler_by_type():
    options = {plan.WARMUP: 0, 'model.head.k': 5,
               plan.hook_option('KNNEvalHook', 'num_val'): 10,
               'param_scheduler.CosineAnnealingLR.T_max': 90}
    schedulers = ['LinearLR', 'CosineAnnealingLR']
    types = dict(custom_hooks=['SupportSetQueueHook', 'KNNEvalHook'],
                 param_scheduler=schedulers)
    assert runner.resolve_types(options, types, 'a.py') == {
        'custom_hooks.0.warmup_iters': 0, 'model.head.k': 5,
        'custom_hooks.1.num_val': 10, 'param_scheduler.1.T_max': 90}
    types = dict(custom_hooks=['KNNEvalHook', 'SupportSetQueueHook'],
                 param_scheduler=schedulers[::-1])
    assert runner.resolve_types(options, types, 'a.py') == {
        'custom_hooks.1.warmup_iters': 0, 'model.head.k': 5,
        'custom_hooks.0.num_val': 10, 'param_scheduler.0.T_max': 90}
    with pytest.raises(ValueError, match='a.py has 0 entries of type '
                       'SupportSetQueueHook in custom_hooks'):
        runner.resolve_types(
            options, dict(custom_hooks=['KNNEvalHook'],
                          param_scheduler=schedulers), 'a.py')


def test_train_command_sets_the_schedule_of_each_scheduler():
    run = plan.campaign(['main'], [0])[0]
    types = runner.entry_types(run['config'])['param_scheduler']
    cmd = runner.train_command(run, '/tmp/w', quick=False)
    linear, cosine = (types.index(t) for t in ('LinearLR',
                                               'CosineAnnealingLR'))
    warmup = int(round(plan.WARMUP_SHARE * run['iters']))
    assert f'param_scheduler.{linear}.end={warmup}' in cmd
    assert f'param_scheduler.{cosine}.T_max={run["iters"] - warmup}' in cmd


@pytest.mark.parametrize('method', ['simclr', 'nnclr'])
def test_train_command_addresses_the_configs_own_hooks(method):
    run = [r for r in plan.campaign(['cause'], [0])
           if r['method'] == 'nnclr' and r['variant'] == 'warmup0'][0]
    run = dict(run, method=method, config=plan.BENCH.format(method),
               options={} if method == 'simclr' else run['options'])
    types = runner.entry_types(run['config'])['custom_hooks']
    cmd = runner.train_command(run, '/tmp/w', quick=True)
    knn = types.index('KNNEvalHook')
    assert f'custom_hooks.{knn}.interval={BUDGET // 8}' in cmd
    assert f'custom_hooks.{knn}.num_val=1000' in cmd
    warmup = [c for c in cmd if 'warmup_iters' in c]
    if method == 'simclr':
        assert 'SupportSetQueueHook' not in types and warmup == []
    else:
        i = types.index('SupportSetQueueHook')
        assert warmup == [f'custom_hooks.{i}.warmup_iters=0']


def test_scalars_of_a_restarted_run_keep_only_the_latest_start(tmp_path):
    """A run interrupted at step 300 and started again from scratch (or
    resumed from step 200) logs into a second folder; the curve is the
    latest start's from its first step on."""
    def log(stamp, steps, key='loss'):
        folder = tmp_path / stamp / 'vis_data'
        folder.mkdir(parents=True)
        with open(folder / 'scalars.json', 'w') as f:
            for step in steps:
                f.write(json.dumps({'step': step, key: float(stamp[-1])}) +
                        '\n')

    log('20260101_000001', [100, 200, 300])
    log('20260101_000002', [200, 300, 400])
    # A start that logged other keys only leaves the loss curve alone.
    log('20260101_000003', [400], key='knn/top1')
    got = runner.read_scalars(str(tmp_path), ['loss', 'knn/top1', 'absent'])
    assert got['loss'] == [[100, 1.0], [200, 2.0], [300, 2.0], [400, 2.0]]
    assert got['knn/top1'] == [[400, 3.0]]
    assert got['absent'] == []


# ---------------------------------------------------------------- report
def tables(markdown: str) -> List[List[Dict[str, str]]]:
    """Every markdown table of ``markdown`` as rows of {column: cell}."""
    found, block = [], []
    for line in markdown.split('\n') + ['']:
        if line.startswith('|'):
            block.append([c.strip() for c in line.strip()[1:-1].split('|')])
        elif block:
            found.append([dict(zip(block[0], cells)) for cells in block[2:]])
            block = []
    return found


def table(markdown: str, column: str) -> List[Dict[str, str]]:
    """The rows of the one table of ``markdown`` with a column ``column``
    (and at least one row)."""
    found = [t for t in tables(markdown) if t and column in t[0]]
    assert len(found) == 1, found
    return found[0]


def row(rows: List[Dict[str, str]], **match) -> Dict[str, str]:
    """The one row whose cells include ``match``."""
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


def result(method: str, seed: int, knn: float, probe: float,
           group: str = 'main', variant: str = 'default',
           iters: int = BUDGET, options: Dict = None,
           scalars: Dict = None) -> Dict:
    """A stored result as ``runner.execute`` writes it, figures given."""
    return dict(
        group=group, method=method, seed=seed, variant=variant,
        config=plan.BENCH.format(method), options=options or {}, iters=iters,
        key=f'{method}_{variant}_{iters}it_seed{seed}', knn_top1=knn,
        probe_top1=probe, curve=[[iters // 2, knn - 5], [iters, knn]],
        scalars=scalars or {}, wall_s=100.0 + seed, machine='test box',
        command=f'tools/train.py {method} seed {seed}')


BASE = {'raw pixels': dict(knn_top1=80.0, probe_top1=85.0, dims=784),
        'random-init backbone': dict(knn_top1=50.0, probe_top1=60.0,
                                     dims=128)}
# SimCLR on three seeds, NNCLR on two (+1 kNN, -1 probe on each).
MAIN = [result('simclr', s, 70.0 + 2 * s, 80.0 + s) for s in (0, 1, 2)] + \
    [result('nnclr', s, 71.0 + 2 * s, 79.0 + s) for s in (0, 1)]


def test_results_table_has_mean_and_std_over_seeds_and_the_baselines():
    rows = table('\n'.join(summary.results_table(MAIN, BASE, BUDGET)),
                 'seeds')
    assert row(rows, method='SimCLR')['kNN top-1'] == '72.00 ± 2.00'
    assert row(rows, method='SimCLR')['seeds'] == '3'
    assert row(rows, method='NNCLR')['linear probe top-1'] == '79.50 ± 0.71'
    assert row(rows, method='raw pixels (784-d)')['kNN top-1'] == '80.00'
    assert [r['method'] for r in rows][2:] == ['SimCLR', 'NNCLR']
    text = '\n'.join(summary.results_table(MAIN, BASE, BUDGET))
    assert 'better of the two baselines: kNN -8.00 pt, probe -4.00 pt' \
        in text


def test_differences_pair_by_seed_and_add_the_same_temperature_row():
    rows = table('\n'.join(summary.differences(MAIN, BUDGET)), 'comparison')
    assert rows == [{'comparison': 'NNCLR − SimCLR',
                     'kNN top-1': '+1.00 ± 0.00 (2 seeds)',
                     'linear probe top-1': '-1.00 ± 0.00 (2 seeds)'}]
    same_t = result('nnclr', 0, 70.5, 80.0, 'cause', 'temp0.2',
                    options=dict(plan.SAME_TEMP))
    rows = table('\n'.join(summary.differences(MAIN + [same_t], BUDGET)),
                 'comparison')
    assert row(rows, comparison='NNCLR at temperature 0.2 − SimCLR') == {
        'comparison': 'NNCLR at temperature 0.2 − SimCLR',
        'kNN top-1': '+0.50 (1 seed)', 'linear probe top-1': '+0.00 (1 seed)'}


def test_cause_runs_are_reported_against_their_default_run():
    temp = result('nnclr', 0, 71.5, 79.75, 'cause', 'temp0.2',
                  options=dict(plan.SAME_TEMP))
    no_warmup = result('nnclr', 1, 72.0, 80.5, 'cause', 'warmup0',
                       options={'custom_hooks.0.warmup_iters': 0})
    lines = ablations.causes(MAIN + [temp, no_warmup], BUDGET)
    rows = table('\n'.join(lines), 'setting')
    assert row(rows, variant='temp0.2') == {
        'method': 'NNCLR', 'variant': 'temp0.2', 'seed': '0',
        'setting': '`model.head.loss.temperature=0.2`', 'kNN top-1': '71.50',
        'Δ kNN': '+0.50', 'probe top-1': '79.75', 'Δ probe': '+0.75'}
    assert row(rows, variant='warmup0')['Δ kNN'] == '-1.00'
    assert 'NNCLR − SimCLR at the same temperature (0.2), paired by seed: ' \
        'kNN +1.50 (1 seed), probe -0.25 (1 seed).' in lines
    assert 'NNCLR without − with the default warm-up, paired by seed: kNN ' \
        '-1.00 (1 seed), probe +0.50 (1 seed).' in lines
    assert ablations.causes(MAIN, BUDGET) == []


def test_budget_table_pairs_each_arm_with_simclr_per_budget():
    long = [result('simclr', 0, 80.0, 86.0, 'long', iters=2 * BUDGET),
            result('nnclr', 0, 81.0, 85.5, 'long', iters=2 * BUDGET)]
    long += [result(m, s, k + s, 88.0, 'long', v, 4 * BUDGET)
             for s in (0, 1) for m, v, k in (('simclr', 'default', 84.0),
                                             ('nnclr', 'default', 85.0),
                                             ('nnclr', 'temp0.2', 84.5))]
    lines = ablations.budgets(MAIN + long, BASE, BUDGET)
    rows = table('\n'.join(lines), 'kNN − raw pixels')
    assert row(rows, method='NNCLR at 0.2', iterations='4000') == {
        'method': 'NNCLR at 0.2', 'iterations': '4000', 'seeds': '2',
        'kNN top-1': '85.00 ± 0.71', 'kNN − raw pixels': '+5.00',
        'probe top-1': '88.00 ± 0.00', 'probe − raw pixels': '+3.00'}
    assert row(rows, method='SimCLR', iterations='1000')['seeds'] == '3'
    # No NNCLR at 0.2 at 1000 or 2000 iterations here: no row, a dash.
    assert [r['iterations'] for r in rows if r['method'] == 'NNCLR at 0.2'] \
        == ['4000']
    gaps = table('\n'.join(lines), 'NNCLR − SimCLR kNN')
    assert row(gaps, iterations='4000')['NNCLR at 0.2 − SimCLR kNN'] == \
        '+0.50 ± 0.00 (2 seeds)'
    assert row(gaps, iterations='2000')['NNCLR − SimCLR probe'] == \
        '-0.50 (1 seed)'
    assert row(gaps, iterations='2000')['NNCLR at 0.2 − SimCLR kNN'] == '—'
    assert ablations.budgets(MAIN, BASE, BUDGET) == []


def test_ablation_tables_compare_with_the_default_run():
    agree = {'support_set/nn_label_agreement': [[500, 0.5], [1000, 0.75]]}
    results = MAIN + [
        result('simclr', 0, 63.0, 72.0, 'crop', 'crop-only'),
        result('nnclr', 0, 66.0, 75.0, 'queue', 'queue512',
               options={'model.head.queue.size': 512}, scalars=agree),
        result('nnclr', 0, 72.0, 80.0, 'topk', 'top5-mean',
                options={'model.head.k': 5, 'model.head.topk_mode': 'mean'}),
    ]
    crop = table('\n'.join(ablations.crop_only(results, BUDGET)),
                 'kNN crop-only')
    # SimCLR only: NNCLR has no crop-only run. (72 - 63) / 72 = 12.5 %.
    assert crop == [{
        'method': 'SimCLR', 'seeds': '1', 'kNN full': '72.00 ± 2.00',
        'kNN crop-only': '63.00 (1 seed)', 'kNN rel. drop': '12.50 %',
        'probe full': '81.00 ± 1.00', 'probe crop-only': '72.00 (1 seed)',
        'probe rel. drop': '11.11 %'}]
    queue = table('\n'.join(ablations.queue_sizes(results, BUDGET)),
                  'queue rows')
    assert [(r['queue rows'], r['final NN label agreement']) for r in queue] \
        == [('512', '0.750'), (str(plan.DEFAULT_QUEUE), '—')]
    topk = table('\n'.join(ablations.top_k(results, BUDGET)), 'mode')
    assert [(r['k'], r['mode'], r['kNN top-1']) for r in topk] == [
        ('1', '—', '71.00'), ('5', 'mean', '72.00')]
    assert ablations.crop_only(MAIN, BUDGET) == []
    assert ablations.queue_sizes(MAIN, BUDGET) == []


def test_gpu_runs_get_their_own_table_with_the_device_named():
    iters = plan.GPU_FACTOR * BUDGET
    gpu = [dict(result(m, 0, k, 90.0, iters=iters), machine='GPU box')
           for m, k in (('nnclr', 88.5), ('simclr', 88.0))]
    lines = summary.gpu_runs(gpu, BASE, BUDGET)
    assert lines[0] == f'### On a GPU: {plan.GPU_FACTOR}x the budget'
    rows = table('\n'.join(lines), 'kNN curve (subsets)')
    assert [r['method'] for r in rows] == ['SimCLR', 'NNCLR']
    assert row(rows, method='NNCLR')['kNN − raw pixels'] == '+8.50'
    assert row(rows, method='NNCLR')['kNN curve (subsets)'] == '83.5, 88.5'
    assert 'Machine: GPU box.' in lines[2]
    assert 'NNCLR − SimCLR on the GPU: seed 0: kNN +0.50, probe +0.00.' \
        in lines
    assert summary.gpu_runs([], BASE, BUDGET) == []


def test_render_puts_the_sections_in_order_and_skips_empty_ones():
    snclr = [result('snclr', 0, 70.0, 80.0, scalars={
        'support_set/positiveness_max': [[1000, 0.04]]}),
        result('snclr', 0, 71.0, 81.0, 'snclr', 'detached')]
    text = report.render(MAIN + snclr, BASE, BUDGET)
    headings = [ln for ln in text.split('\n') if ln.startswith('#')]
    assert headings == ['## Quality: Fashion-MNIST, kNN and linear probe',
                        '### Results', '### SNCLR variants (seed 0)',
                        '### Commands of the runs']
    assert 'Machine: test box.' in text
    assert 'mean largest weight 0.0400.' in text
    variants = table(text, 'mean max weight')
    assert [(r['variant'], r['mean max weight']) for r in variants] == [
        ('default', '0.0400'), ('detached', '—')]
    gpu = [result('simclr', 0, 88.0, 90.0, iters=plan.GPU_FACTOR * BUDGET)]
    text = report.render(MAIN + snclr, BASE, BUDGET, gpu)
    assert text.index('### On a GPU') < text.index('### Commands')
    # Results, differences, SNCLR variants and GPU runs.
    assert len(tables(text)) == 4
    assert '```\ntools/train.py simclr seed 0\n```' in text


# ------------------------------------------------------------- command line
@pytest.mark.skipif(torch.cuda.is_available(), reason='machine has CUDA')
def test_gpu_campaign_without_cuda_is_a_clear_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, SCRIPT, '--gpu', '--work-root', str(tmp_path)],
        cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2
    assert '--gpu needs a CUDA device' in proc.stderr


# Slow (about a minute of training and full-set evaluation): a smoke test
# of the benchmark script, not of the plugin, whose report logic the other
# tests here cover; `make test PYTEST_ARGS="-m slow"` runs it.
@pytest.mark.slow
@requires_fmnist
def test_quick_mode_trains_and_evaluates_end_to_end(tmp_path):
    root = str(tmp_path / 'bench')
    proc = subprocess.run(
        # NNCLR alone: the method with the support-set hook exercises all
        # of the machinery; both methods would double the test's minute.
        [sys.executable, SCRIPT, '--quick', '--methods', 'nnclr', '--iters',
         '8', '--work-root', root, '--docs', str(tmp_path / 'docs')],
        cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not osp.exists(osp.join(root, 'quick', 'simclr_default_8it_seed0'))
    for method in ('nnclr', ):
        path = osp.join(root, 'quick', f'{method}_default_8it_seed0',
                        'result.json')
        with open(path) as f:
            stored = json.load(f)
        assert 0 < stored['knn_top1'] <= 100
        assert 0 < stored['probe_top1'] <= 100
        assert stored['curve'][-1][0] == 8
        assert f'{method}: kNN top-1' in proc.stdout
    # A second call reuses the finished runs instead of training again.
    again = subprocess.run(
        [sys.executable, SCRIPT, '--quick', '--methods', 'nnclr', '--iters',
         '8', '--work-root', root],
        cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert again.returncode == 0
    assert again.stdout.count('kNN top-1') == proc.stdout.count('kNN top-1')
