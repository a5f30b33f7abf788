import os

if not os.environ.get('PYTEST_XDIST_WORKER'):
    # mmengine.config imports yapf, which on its first import on a machine
    # writes a grammar cache file and renames it into place before
    # flushing it: two xdist workers importing mmengine at once on a fresh
    # machine can read it empty (EOFError at collection). The controller
    # loads this file before it starts the workers, so importing yapf here
    # writes the cache first.
    import yapf  # noqa: F401
else:
    # `make test` runs one pytest-xdist worker per core: each worker, and
    # every tool it starts, gets one thread, or the workers' torch thread
    # pools would oversubscribe the cores (measured ~10x slower steps).
    os.environ['OMP_NUM_THREADS'] = '1'
    import torch
    torch.set_num_threads(1)
