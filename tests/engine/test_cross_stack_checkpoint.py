"""A Runner checkpoint written on one tested stack resumes on the other
(torch 2.1 + numpy 1.26 <-> the newest torch + numpy 2), both ways, with
torch's default loader (``weights_only=True`` from torch 2.6)."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
from helpers import (
    NNCLR_DEMO,
    REPO,
    small_nnclr_options,
    synthetic_fmnist_root,
)


def other_stack_python() -> str:
    """The other tested stack's interpreter, from ``NNCLR_OTHER_STACK_PYTHON``
    (``make test-oldest`` sets it to the newest stack's venv). ``make test``
    leaves it unset, so that CI runs the two directions once, not twice."""
    return os.environ.get('NNCLR_OTHER_STACK_PYTHON', '')


OTHER = other_stack_python()
pytestmark = pytest.mark.skipif(
    not OTHER, reason='NNCLR_OTHER_STACK_PYTHON is not set: `make '
    'test-oldest` (run by CI after `make test`) runs these tests both '
    'ways, with .venv-oldest and .venv')


def versions(python: str) -> str:
    return subprocess.run(
        [python, '-c', 'import torch, numpy; '
         'print(torch.__version__, numpy.__version__)'],
        capture_output=True, text=True, check=True).stdout.strip()


def train(python: str, work: str, iters: int, *extra: str) -> str:
    cmd = [
        python, osp.join(REPO, 'tools', 'train.py'), NNCLR_DEMO,
        '--work-dir', work, *extra, '--cfg-options',
        f'data_root={synthetic_fmnist_root()}',
        *small_nnclr_options(64, 8, iters, 2, 16, 'param_scheduler=[]')
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('PYTHONPATH', None)  # each interpreter imports its own install
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{python}:\n{out[-4000:]}'
    return out


@pytest.mark.parametrize('direction', ['this-to-other', 'other-to-this'])
def test_checkpoint_resumes_on_the_other_stack(tmp_path, direction):
    here = sys.executable
    writer, reader = (here, OTHER) if direction == 'this-to-other' else \
        (OTHER, here)
    assert versions(writer) != versions(reader), 'the two stacks are one'
    work = str(tmp_path / 'work')
    train(writer, work, 2)
    written = str(tmp_path / 'written_by_the_writer.pth')
    # Kept aside: the reader's run deletes it (max_keep_ckpts).
    shutil.copy(osp.join(work, 'iter_2.pth'), written)
    log = train(reader, work, 4, '--resume')
    assert 'resumed epoch: 0, iter: 2' in log, log[-3000:]
    assert osp.exists(osp.join(work, 'iter_4.pth'))
    # The reader's default torch.load (weights_only=True on torch >= 2.6)
    # takes the support set and the message hub written by the writer.
    check = subprocess.run([
        reader, '-c', 'import sys, torch, nnclr_plugin\n'
        'ckpt = torch.load(sys.argv[1], map_location="cpu")\n'
        'queue = [k for k in ckpt["state_dict"] if "queue" in k]\n'
        'assert queue, list(ckpt["state_dict"])[:20]\n'
        'hub = ckpt["message_hub"]["log_scalars"]["train/loss"]\n'
        'print(ckpt["meta"]["iter"], len(hub.data[0]))\n',
        written
    ], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert check.returncode == 0, check.stderr[-3000:]
    assert check.stdout.split()[0] == '2'
