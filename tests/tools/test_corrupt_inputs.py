"""Truncated checkpoints and config typos: one message, never a wall."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
from helpers import NNCLR_DEMO, REPO, synthetic_fmnist_root

from nnclr_plugin.utils.checkpoint_files import (
    checkpoint_problem,
    newest_readable_checkpoint,
)

TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')
SMALL = [
    f'train_dataloader.dataset.data_root={synthetic_fmnist_root()}',
    'train_dataloader.dataset.indices=64', 'train_dataloader.batch_size=16',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'default_hooks.checkpoint.interval=2',
    'default_hooks.checkpoint.max_keep_ckpts=2',
    'default_hooks.logger.interval=1', 'model.head.queue.size=64',
    'custom_hooks.0.warmup_iters=1'
]


def run(args, **kwargs):
    return subprocess.run([sys.executable] + args, cwd=REPO,
                          capture_output=True, text=True, **kwargs)


def truncate(path):
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def test_checkpoint_problem_finds_truncated_and_missing_files(tmp_path):
    good = str(tmp_path / 'good.pth')
    torch.save({'state_dict': {'w': torch.ones(1000)}}, good)
    assert checkpoint_problem(good) is None
    bad = str(tmp_path / 'bad.pth')
    torch.save({'state_dict': {'w': torch.ones(1000)}}, bad)
    truncate(bad)
    assert bad in checkpoint_problem(bad)
    assert 'does not exist' in checkpoint_problem(str(tmp_path / 'no.pth'))
    (tmp_path / 'empty.pth').write_bytes(b'')
    assert 'is empty' in checkpoint_problem(str(tmp_path / 'empty.pth'))


def test_newest_readable_skips_a_truncated_last_checkpoint(tmp_path, capsys):
    work = tmp_path
    for i in (2, 4):
        torch.save({'i': i}, str(work / f'iter_{i}.pth'))
    (work / 'last_checkpoint').write_text(str(work / 'iter_4.pth'))
    truncate(str(work / 'iter_4.pth'))
    assert newest_readable_checkpoint(str(work)) == str(work / 'iter_2.pth')
    assert 'skipping' in capsys.readouterr().out
    truncate(str(work / 'iter_2.pth'))
    with pytest.raises(RuntimeError, match='no readable checkpoint'):
        newest_readable_checkpoint(str(work))
    assert newest_readable_checkpoint(str(tmp_path / 'fresh')) is None


def test_resume_from_a_truncated_newest_checkpoint_uses_the_previous(
        tmp_path):
    work = str(tmp_path)
    first = run([TRAIN, NNCLR_DEMO, '--work-dir', work, '--cfg-options',
                 'train_cfg.max_iters=4'] + SMALL)
    assert first.returncode == 0, first.stderr[-2000:]
    truncate(osp.join(work, 'iter_4.pth'))
    resumed = run([TRAIN, NNCLR_DEMO, '--work-dir', work, '--resume',
                   '--cfg-options', 'train_cfg.max_iters=6'] + SMALL)
    out = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, out[-3000:]
    assert f'skipping {osp.join(work, "iter_4.pth")}' in out
    assert f'resuming from {osp.join(work, "iter_2.pth")}' in out
    assert 'resumed from checkpoint' in out.lower() or 'Iter(train) [3/6]' \
        in out
    assert torch.load(osp.join(work, 'iter_6.pth'))['meta']['iter'] == 6

    # The tools name the unreadable file in one message.
    bad = osp.join(work, 'bad.pth')
    open(bad, 'wb').write(open(osp.join(work, 'iter_6.pth'), 'rb').read()
                          [:5000])
    for args in ([TEST, NNCLR_DEMO, bad],
                 [osp.join(REPO, 'tools', 'analysis_tools', 'knn_eval.py'),
                  NNCLR_DEMO, bad],
                 [osp.join(REPO, 'tools', 'model_converters',
                           'extract_backbone_weights.py'), bad,
                  str(tmp_path / 'out.pth')],
                 [TRAIN, NNCLR_DEMO, '--work-dir', work, '--resume', bad]):
        proc = run(args)
        assert proc.returncode == 1, proc.stderr[-2000:]
        assert 'Traceback' not in proc.stderr
        first_line = proc.stderr.strip().splitlines()[0]
        assert first_line.startswith('error:') and bad in first_line, \
            proc.stderr


def test_config_typos_get_one_screen_with_a_suggestion(tmp_path):
    for option, hint, key in (
            ('model.head.queue.szie=5', 'did you mean size=',
             'model.head.queue.szie'),
            ('model.head.type=NNCLRHaed', "did you mean type='NNCLRHead'",
             'model.head.type')):
        proc = run([TRAIN, NNCLR_DEMO, '--work-dir', str(tmp_path),
                    '--cfg-options', option])
        assert proc.returncode == 1
        # No config dump (mmengine's own log lines, e.g. the data root
        # taken from NNCLR_DATA_ROOT, may be there).
        assert [line for line in proc.stdout.splitlines()
                if ' - mmengine - ' not in line] == []
        lines = proc.stderr.strip().splitlines()
        assert len(lines) <= 4, proc.stderr
        assert lines[0].startswith('error:') and hint in lines[1]
        assert f'(config key: {key})' in lines[0]


def test_test_tool_on_a_pretraining_config_says_what_to_use(tmp_path):
    ckpt = str(tmp_path / 'x.pth')
    torch.save({'state_dict': {}}, ckpt)
    proc = run([TEST, NNCLR_DEMO, ckpt])
    assert proc.returncode == 1
    assert 'has no test_dataloader: it is a pretraining config' in \
        proc.stderr
    assert 'configs/benchmarks' in proc.stderr
