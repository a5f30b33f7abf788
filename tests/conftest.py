import os
import os.path as osp
import sys

# Lets test modules `import helpers`.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

if os.environ.get('PYTEST_XDIST_WORKER'):
    # `make test` runs one pytest-xdist worker per core: each worker, and
    # every tool it starts, gets one thread, or the workers' torch thread
    # pools would oversubscribe the cores (measured ~10x slower steps).
    os.environ['OMP_NUM_THREADS'] = '1'
    import torch
    torch.set_num_threads(1)
