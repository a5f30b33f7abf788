"""tools/benchmarks/gpu_check.py: CPU-side parts and comparison logic."""
import json
import os.path as osp

import gpu_check
import pytest
import torch
from helpers import REPO


def test_identical_results_pass_and_deviations_fail():
    inputs = gpu_check.fixed_inputs()
    a = gpu_check.compute_on('cpu', inputs)
    b = gpu_check.compute_on('cpu', inputs)
    assert all(row['ok'] for row in gpu_check.compare(a, b).values())
    # A loss off by more than the tolerance, and swapped neighbours.
    worse = dict(b, nn_loss=b['nn_loss'] * (1 + 1e-3))
    worse['topk_idx'] = b['topk_idx'].flip(1)
    result = gpu_check.compare(a, worse)
    assert not result['nn_loss']['ok'] and not result['topk']['ok']
    assert result['soft_loss']['ok'] and result['top1']['ok']


def test_reference_values_agree_with_a_plain_torch_computation():
    inputs = gpu_check.fixed_inputs()
    out = gpu_check.compute_on('cpu', inputs)
    bank = torch.nn.functional.normalize(inputs['bank'], dim=1)
    query = torch.nn.functional.normalize(inputs['pos'], dim=1)
    sims, idx = (query @ bank.t()).topk(30, dim=1)
    assert torch.equal(out['topk_idx'], idx)
    torch.testing.assert_close(out['topk_sim'], sims)


@pytest.mark.skipif(torch.cuda.is_available(), reason='machine has CUDA')
def test_without_cuda_it_says_so_and_exits_0(capsys):
    assert gpu_check.main([]) == 0
    assert 'No CUDA device here' in capsys.readouterr().out


def test_cpu_run_of_small_models_writes_a_passing_report(tmp_path):
    code = gpu_check.main([
        '--device', 'cpu', '--models', 'nnclr_r50', 'snclr_vit-s',
        '--img-size', '32', '--batch', '4', '--steps', '2', '--lookup-rows',
        '1024', '--lookup-batch', '64', '--out-dir', str(tmp_path)
    ])
    with open(tmp_path / 'gpu_check.json') as f:
        report = json.load(f)
    assert code == 0 and report['ok']
    steps = {r['model']: r for r in report['steps']}
    assert steps['nnclr_r50']['queue_filled'] == [8]
    # SNCLR enqueues the momentum keys of the first loss call: 4 per step.
    assert steps['snclr_vit-s']['queue_filled'] == [8]
    assert all(r['finite'] for r in report['steps'])
    assert {(r['k'], r['block_size']) for r in report['lookup']} == {
        (1, None), (30, None), (1, 8192), (30, 8192), (1, 'auto'),
        (30, 'auto')}
    # Every blocked lookup found the full matrix's neighbours.
    assert [r['changed_share'] for r in report['lookup']
            if r['block_size'] is not None] == [0.0] * 4
    assert (tmp_path / 'gpu_check.md').read_text().startswith('### GPU check')
    # A run fetched from the device machine goes into the benchmark page.
    docs = tmp_path / 'docs'
    assert gpu_check.main(['--to-docs', str(tmp_path / 'gpu_check.json'),
                           '--docs-dir', str(docs)]) == 0
    page = (docs / 'benchmarks.md').read_text()
    assert '<!-- gpu-check:begin -->\n### GPU check' in page


def test_report_gives_blocked_lookup_as_a_ratio_of_the_full_matrix():
    """The figures of the H100 run (docs/results/gpu/gpu_check.json)."""
    with open(osp.join(REPO, 'docs', 'results', 'gpu', 'gpu_check.json')) as f:
        report = json.load(f)
    rows = {(r['k'], r['block_size']): r for r in report['lookup']}
    text = gpu_check.to_markdown(report)
    for k in (1, 30):
        full, blocked = rows[(k, None)], rows[(k, 8192)]
        time_ratio = f'{blocked["ms"] / full["ms"]:.2f}'
        mem_ratio = f'{blocked["extra_mib"] / full["extra_mib"]:.2f}'
        assert f'| {time_ratio} | {mem_ratio} |' in text
    assert 'not checked' in text  # the carried mmcv had no ops
