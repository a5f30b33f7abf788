"""SIGKILL a real tools/train.py after a checkpoint, resume, compare."""
import os.path as osp
import signal
import subprocess
import sys
import time

import torch
from helpers import NNCLR_DEMO, REPO, synthetic_fmnist_root

TRAIN = osp.join(REPO, 'tools', 'train.py')
OPTIONS = [
    f'train_dataloader.dataset.data_root={synthetic_fmnist_root()}',
    'train_dataloader.dataset.indices=128', 'train_dataloader.batch_size=16',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False', 'train_cfg.max_iters=12',
    'default_hooks.checkpoint.interval=4',
    'default_hooks.checkpoint.max_keep_ckpts=1',
    'default_hooks.logger.interval=1', 'model.head.queue.size=64',
    'custom_hooks.0.warmup_iters=2', 'randomness.deterministic=True'
]


def train(work_dir, *extra):
    return subprocess.Popen(
        [sys.executable, TRAIN, NNCLR_DEMO, '--work-dir', work_dir, *extra,
         '--cfg-options', *OPTIONS],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)


def final_state(work_dir):
    return torch.load(osp.join(work_dir, 'iter_12.pth'))['state_dict']


def test_sigkill_mid_run_then_resume_equals_uninterrupted(tmp_path):
    full_dir, killed_dir = str(tmp_path / 'full'), str(tmp_path / 'killed')
    full = train(full_dir)
    killed = train(killed_dir)
    # Kill once the iteration-4 checkpoint is complete (last_checkpoint
    # names it: SafeCheckpointHook writes the file before the pointer).
    pointer = osp.join(killed_dir, 'last_checkpoint')
    deadline = time.time() + 240
    while time.time() < deadline and killed.poll() is None:
        if osp.isfile(pointer) and open(pointer).read().strip():
            break
        time.sleep(0.05)
    assert killed.poll() is None, 'the run ended before it could be killed'
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    assert not osp.exists(osp.join(killed_dir, 'iter_12.pth'))

    resumed = train(killed_dir, '--resume')
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()[-3000:]
    assert full.wait(timeout=300) == 0, full.stderr.read()[-3000:]
    a, b = final_state(full_dir), final_state(killed_dir)
    assert a.keys() == b.keys()
    for key in a:  # parameters, BN statistics and the support set
        assert torch.equal(a[key], b[key]), key
    assert int(b['head.queue.num_filled']) == 64
