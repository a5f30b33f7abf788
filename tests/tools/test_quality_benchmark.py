"""tools/benchmarks/quality.py end to end (--quick) and its run plan."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from helpers import REPO, requires_fmnist

BENCH_DIR = osp.join(REPO, 'tools', 'benchmarks')
sys.path.insert(0, BENCH_DIR)
import quality  # noqa: E402


def test_campaign_plan_covers_the_issue_and_has_no_duplicates():
    runs = quality.campaign(
        ['main', 'peer', 'crop', 'queue', 'topk', 'long', 'cause', 'snclr'],
        [0, 1, 2])
    keys = [r['key'] for r in runs]
    assert len(keys) == len(set(keys))
    main = {(r['method'], r['seed']) for r in runs if r['group'] == 'main'}
    assert main == {(m, s) for m in quality.METHODS for s in (0, 1, 2)}
    crop = [r for r in runs if r['group'] == 'crop']
    assert {r['method'] for r in crop} == {'simclr', 'nnclr'}
    assert all(r['options'] == {'model.data_preprocessor.jitter_prob': 0.0}
               for r in crop)
    # NNCLR at SimCLR's temperature: every seed at the standard and the 4x
    # budget, so both gaps are paired over the same seeds.
    same_t = {(r['iters'], r['seed']) for r in runs
              if r['variant'] == 'temp0.2'}
    assert same_t == {(i, s) for i in (quality.BUDGET, 4 * quality.BUDGET)
                      for s in (0, 1, 2)}
    # Without warm-up too, every seed at the standard budget.
    assert {r['seed'] for r in runs if r['variant'] == 'warmup0'} == {0, 1, 2}
    # Every config the plan names exists.
    assert all(osp.isfile(osp.join(REPO, r['config'])) for r in runs)


def test_budget_options_scale_the_schedule():
    options = quality.budget_options(2000)
    assert options['train_cfg.max_iters'] == 2000
    assert options['param_scheduler.0.end'] == 200
    assert options['param_scheduler.1.T_max'] == 1800


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
        [sys.executable, osp.join(BENCH_DIR, 'quality.py'), '--quick',
         '--methods', 'nnclr', '--iters', '8', '--work-root', root,
         '--docs', str(tmp_path / 'docs')],
        cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not osp.exists(osp.join(root, 'quick', 'simclr_default_8it_seed0'))
    for method in ('nnclr', ):
        path = osp.join(root, 'quick', f'{method}_default_8it_seed0',
                        'result.json')
        with open(path) as f:
            result = json.load(f)
        assert 0 < result['knn_top1'] <= 100
        assert 0 < result['probe_top1'] <= 100
        assert result['curve'][-1][0] == 8
        assert f'{method}: kNN top-1' in proc.stdout
    # A second call reuses the finished runs instead of training again.
    again = subprocess.run(
        [sys.executable, osp.join(BENCH_DIR, 'quality.py'), '--quick',
         '--methods', 'nnclr', '--iters', '8', '--work-root', root],
        cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert again.returncode == 0
    assert again.stdout.count('kNN top-1') == proc.stdout.count('kNN top-1')


def test_gpu_runs_get_their_own_table_with_the_device_named():
    import quality_report
    gpu = quality.load_results(quality.RESULTS_GPU)
    assert {r['iters'] for r in gpu} == {quality.GPU_FACTOR * quality.BUDGET}
    base = {'raw pixels': dict(knn_top1=80.0, probe_top1=85.0, dims=784)}
    text = quality_report.render_gpu(gpu, base, quality.BUDGET)
    assert text.startswith(f'### On a GPU: {quality.GPU_FACTOR}x the budget')
    pair = {r['method']: r for r in gpu if r['seed'] == 0}
    gap = pair['nnclr']['knn_top1'] - pair['simclr']['knn_top1']
    assert f'seed 0: kNN {gap:+.2f}' in text
    assert f'{pair["simclr"]["knn_top1"] - 80.0:+.2f}' in text
    assert all(r['machine'] in text for r in gpu)
    assert quality_report.render_gpu([], base, quality.BUDGET) == ''


@pytest.mark.skipif(torch.cuda.is_available(), reason='machine has CUDA')
def test_gpu_campaign_without_cuda_is_a_clear_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, osp.join(BENCH_DIR, 'quality.py'), '--gpu',
         '--work-root', str(tmp_path)],
        cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2
    assert '--gpu needs a CUDA device' in proc.stderr


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
    got = quality.read_scalars(str(tmp_path), ['loss', 'knn/top1', 'absent'])
    assert got['loss'] == [[100, 1.0], [200, 2.0], [300, 2.0], [400, 2.0]]
    assert got['knn/top1'] == [[400, 3.0]]
    assert got['absent'] == []


def test_cause_runs_are_reported_against_their_default_run():
    import quality_report
    # The stored runs, less any real cause runs (this test adds its own).
    results = [r for r in quality.load_results(quality.RESULTS)
               if r['group'] != 'cause']
    default = [r for r in results if r['key'] == 'nnclr_default_1000it_seed0']
    assert default, 'the stored default NNCLR run (seed 0) is missing'
    variant = dict(default[0], group='cause', variant='temp0.2',
                   key='nnclr_temp0.2_1000it_seed0',
                   options={'model.head.loss.temperature': 0.2},
                   knn_top1=default[0]['knn_top1'] + 0.5,
                   probe_top1=default[0]['probe_top1'] - 0.25)
    lines = quality_report._render_causes(results + [variant],
                                          quality.BUDGET)
    row = [ln for ln in lines if ln.startswith('| NNCLR | temp0.2 | 0 |')]
    assert len(row) == 1
    assert '`model.head.loss.temperature=0.2`' in row[0]
    assert '| +0.50 |' in row[0] and '| -0.25 |' in row[0]
    simclr = [r for r in results if r['key'] == 'simclr_default_1000it_seed0']
    gap = variant['knn_top1'] - simclr[0]['knn_top1']
    assert any(f'same temperature (0.2), paired by seed: kNN {gap:+.2f} '
               '(1 seed)' in ln for ln in lines)
    assert quality_report._render_causes(results, quality.BUDGET) == []
    # Without warm-up: its own paired line against the default NNCLR.
    no_warmup = dict(variant, variant='warmup0', key='nnclr_warmup0_1000it'
                     '_seed0', options={'custom_hooks.0.warmup_iters': 0})
    lines = quality_report._render_causes(results + [no_warmup],
                                          quality.BUDGET)
    assert any(ln.startswith('NNCLR without − with the default warm-up, '
                             'paired by seed: kNN +0.50 (1 seed), probe '
                             '-0.25 (1 seed)') for ln in lines)
    # The main differences table carries the like-for-like row too.
    base = {'raw pixels': dict(knn_top1=80.0, probe_top1=85.0, dims=784),
            'random-init backbone': dict(knn_top1=50.0, probe_top1=60.0,
                                         dims=128)}
    text = quality_report.render(results + [variant], base, quality.BUDGET)
    assert f'| NNCLR at temperature 0.2 − SimCLR | {gap:+.2f} (1 seed) |' \
        in text
    assert 'NNCLR at temperature 0.2' not in quality_report.render(
        results, base, quality.BUDGET)


def test_budget_table_pairs_each_arm_with_simclr_per_budget():
    import quality_report
    # The stored runs, less any real 4x temperature runs (this test adds
    # its own).
    results = [r for r in quality.load_results(quality.RESULTS)
               if not (r['group'] == 'long' and r['variant'] == 'temp0.2')]
    keys = {r['key']: r for r in results}
    simclr = keys['simclr_default_4000it_seed0']
    nnclr = keys['nnclr_default_4000it_seed0']
    variant = dict(nnclr, variant='temp0.2', key='nnclr_temp0.2_4000it_seed0',
                   options=dict(quality.SAME_TEMP),
                   knn_top1=simclr['knn_top1'] + 0.5,
                   probe_top1=simclr['probe_top1'] - 0.25)
    base = {'raw pixels': {'knn_top1': 80.0, 'probe_top1': 85.0}}
    lines = quality_report._render_budgets(results + [variant], base,
                                           quality.BUDGET)
    rows = [ln for ln in lines if ln.startswith('| NNCLR at 0.2 | 4000 |')]
    knn, probe = variant['knn_top1'], variant['probe_top1']
    assert rows == [f'| NNCLR at 0.2 | 4000 | 1 | {knn:.2f} (1 seed) | '
                    f'{knn - 80:+.2f} | {probe:.2f} (1 seed) | '
                    f'{probe - 85:+.2f} |']
    gap = [ln for ln in lines if ln.startswith('| 4000 |')]
    assert len(gap) == 1 and gap[0].endswith(
        '| +0.50 (1 seed) | -0.25 (1 seed) |')
    # At the standard budget the arm is the ``cause`` group's runs, and a
    # budget without the arm shows a dash, not a number from elsewhere.
    causes = [r for r in results if r['group'] == 'cause'
              and r['variant'] == 'temp0.2']
    std = [ln for ln in lines if ln.startswith('| NNCLR at 0.2 | 1000 |')]
    assert len(std) == 1 and f'| {len(causes)} |' in std[0]
    two = [ln for ln in lines if ln.startswith('| 2000 |')]
    assert len(two) == 1 and two[0].endswith('| — | — |')
