"""tools/train.py refuses, before training, what would lose work later: a
misspelt checkpoint-hook argument, a work dir another run is using; and
says so when ``--resume`` finds nothing to resume."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
from helpers import NNCLR_DEMO, REPO, small_nnclr_options

from nnclr_plugin.utils.work_dir_lock import (
    LOCK_NAME,
    WorkDirBusyError,
    WorkDirLock,
)

TRAIN = osp.join(REPO, 'tools', 'train.py')
SMALL = small_nnclr_options(32, 8, 2, 2, 16, 'param_scheduler=[]')


def train(work: str, *extra: str, options=()) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run(
        [sys.executable, TRAIN, NNCLR_DEMO, '--work-dir', work, *extra,
         '--cfg-options', *SMALL, *options], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=600)


def test_a_second_lock_on_one_work_dir_fails_and_names_the_holder(tmp_path):
    with WorkDirLock(str(tmp_path)):
        with pytest.raises(WorkDirBusyError) as err:
            WorkDirLock(str(tmp_path)).acquire()
        assert f'PID {os.getpid()}' in str(err.value)
        assert str(tmp_path) in str(err.value)
    WorkDirLock(str(tmp_path)).acquire().release()  # free again


def test_misspelt_checkpoint_argument_fails_before_training(tmp_path):
    work = str(tmp_path / 'work')
    start = time.time()
    proc = train(work, options=['default_hooks.checkpoint.intervl=2'])
    assert proc.returncode != 0
    assert 'default_hooks.checkpoint.intervl (did you mean ' \
        'default_hooks.checkpoint.interval?)' in proc.stderr, proc.stderr
    assert 'Iter(train)' not in proc.stdout + proc.stderr  # no step ran
    assert time.time() - start < 120
    assert not [f for f in os.listdir(work) if f.endswith('.pth')]
    # The traceback goes to the run's own work dir (before: a new
    # /tmp/nnclr_error_*.txt per failed run), overwritten by the next one.
    trace = osp.join(work, 'last_error.txt')
    assert f'full traceback in {trace}' in proc.stderr
    with open(trace) as f:
        assert 'Traceback' in f.read()


def test_second_run_into_a_busy_work_dir_fails_at_once(tmp_path):
    """Another live run holds the dir: refused, naming its PID; once that
    process is gone (even by kill -9) the dir is free again, and an empty
    dir given to --resume is said to start from scratch."""
    work = str(tmp_path / 'work')
    holder = subprocess.Popen(
        [sys.executable, '-c',
         'import fcntl, os, sys, time\n'
         'os.makedirs(sys.argv[1], exist_ok=True)\n'
         'fd = os.open(os.path.join(sys.argv[1], sys.argv[2]), '
         'os.O_RDWR | os.O_CREAT)\n'
         'fcntl.flock(fd, fcntl.LOCK_EX)\n'
         'os.write(fd, f"PID {os.getpid()}, a test holder".encode())\n'
         'print("locked", flush=True)\n'
         'time.sleep(600)\n', work, LOCK_NAME],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        proc = train(work)
        assert proc.returncode != 0
        assert f'in use by another training run (PID {holder.pid}' in \
            proc.stderr, proc.stderr[-3000:]
        assert not [f for f in os.listdir(work) if f.endswith('.pth')]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The dir is free again. It holds no checkpoint, so --resume keeps
    # mmengine's meaning (train from scratch) but says so where it is read:
    # after the config and hook dumps, right before the first step.
    proc = train(work, '--resume', options=['default_hooks.logger.interval=1'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
    log = proc.stdout + proc.stderr
    warning = log.find(f'--resume: no checkpoint in work_dir {work}')
    assert warning >= 0, log[-3000:]
    assert 'WARNING' in log[max(0, warning - 200):warning]
    assert log.find('Hooks will be executed in the following order') < \
        warning < log.find('Iter(train) [1/2]')
