"""One training run per work dir.

Two runs writing into one work dir overwrite each other's checkpoints,
``last_checkpoint`` and ``scalars.json`` (and ``--resume`` then mixes
them). ``tools/train.py`` holds an advisory ``flock`` on
``<work_dir>/.train.lock`` for the whole run: the kernel drops it when the
process ends in any way (kill -9 included), so a lock is never stale, and
the file names the PID of the run holding it. Under DDP only the global
rank 0 takes it (every rank of one run shares the dir).
"""
import os
import os.path as osp
import time
from typing import Optional

try:
    import fcntl
except ImportError:  # not POSIX: no lock
    fcntl = None

LOCK_NAME = '.train.lock'


class WorkDirBusyError(RuntimeError):
    """Another live run holds the work dir."""


def _global_rank() -> int:
    for var in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        if os.environ.get(var, '').isdigit():
            return int(os.environ[var])
    return 0


class WorkDirLock:
    """Advisory lock of a work dir, held until :meth:`release` or exit.

    Args:
        work_dir (str): The run's work dir (created if missing).
    """

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self._fd: Optional[int] = None

    def acquire(self) -> 'WorkDirLock':
        """Take the lock, or raise at once naming the run that holds it.

        Raises:
            WorkDirBusyError: The work dir is in use by a live process.
        """
        if fcntl is None or _global_rank() != 0:
            return self
        os.makedirs(self.work_dir, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors='replace').strip()
            os.close(fd)
            raise WorkDirBusyError(
                f'work_dir {self.work_dir} is in use by another training run '
                f'({holder or "PID unknown"}). Two runs in one work dir '
                'overwrite each other\'s checkpoints and logs: wait for it '
                'to end, or pass another --work-dir. (The lock is '
                f'{self.path}; it is freed when that process exits.)'
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f'PID {os.getpid()}, started '
                 f'{time.strftime("%Y-%m-%d %H:%M:%S")}\n'.encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (also done by the kernel when the process ends)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> 'WorkDirLock':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
