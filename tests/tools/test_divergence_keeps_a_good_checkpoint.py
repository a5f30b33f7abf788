"""A run that diverges right after a checkpoint never loses the last good
one (issue 24, A). The issue's reproduction: the 6th update multiplies the
learning rate by 1e13; iteration 6's loss is still finite, so iter_6.pth is
saved with exploded weights; iteration 7 is NaN. Before, mmengine had
already deleted iter_4.pth (max_keep_ckpts=1), the error named iter_6.pth
and every --resume failed again at iteration 7."""
import os
import os.path as osp
import subprocess
import sys

import torch
from helpers import NNCLR_DEMO, REPO, small_nnclr_options

TRAIN = osp.join(REPO, 'tools', 'train.py')
SMALL = small_nnclr_options(
    256, 32, 12, 2, 64, 'custom_hooks.0.warmup_iters=1',
    'optim_wrapper.optimizer.lr=0.05',
    'default_hooks.checkpoint.max_keep_ckpts=1', 'randomness.seed=0')
# A list of dicts does not pass through --cfg-options: a config file.
EXPLODING = (f'_base_ = {NNCLR_DEMO!r}\n'
             "param_scheduler = [dict(type='MultiStepLR', by_epoch=False, "
             'milestones=[5], gamma=1e13)]\n')


def train(config: str, work: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, TRAIN, config, '--work-dir',
                           work, *extra], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def max_abs_weight(path: str) -> float:
    state = torch.load(path, map_location='cpu', weights_only=False)
    return max(float(v.abs().max()) for v in state['state_dict'].values()
               if v.is_floating_point() and v.numel())


def test_divergence_after_a_checkpoint_keeps_and_resumes_the_good_one(
        tmp_path):
    work = str(tmp_path / 'work')
    good, bad = osp.join(work, 'iter_4.pth'), osp.join(work, 'iter_6.pth')
    exploding = tmp_path / 'exploding_lr.py'
    exploding.write_text(EXPLODING)
    proc = train(str(exploding), work, '--cfg-options', *SMALL)
    err = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'Non-finite loss at iteration 7' in err, err[-3000:]
    assert f'the last good checkpoint is {good} ({bad} was saved after ' \
        'it' in err, err[-3000:]
    # max_keep_ckpts=1 still keeps the confirmed file beside the new one.
    assert osp.isfile(good) and osp.isfile(bad)
    assert max_abs_weight(good) < 1e6 < max_abs_weight(bad)

    # With the schedule fixed, --resume passes over the diverged file.
    proc = train(NNCLR_DEMO, work, '--resume', '--cfg-options', *SMALL,
                 'param_scheduler=[]')
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert f'WARNING: skipping {bad}: the run diverged right after saving ' \
        f'it' in log and f'resuming from the last good checkpoint {good}' \
        in log, log[-3000:]
    assert 'resumed epoch: 0, iter: 4' in log
    # Once newer ones are good, the window of one applies again.
    assert sorted(f for f in os.listdir(work) if f.endswith('.pth')) == \
        ['iter_12.pth']
    assert not osp.exists(osp.join(work, 'diverged_after'))
    with open(osp.join(work, 'last_good_checkpoint')) as f:
        assert f.read().strip() == osp.join(work, 'iter_12.pth')
