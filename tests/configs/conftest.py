"""Fixtures of the config tests (plain helpers: ``tests/helpers.py``)."""
import pytest
import torch

# The downstream helpers (tests/configs/benchmarks/) also make the tiny
# ImageNet the -gpuaug configs train on.
from downstream_helpers import make_tiny_imagenet


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """Run the forward/backward passes on one intra-op thread.

    With two threads on two cores shared with other processes (parallel
    test runs, a demo training), OpenMP's waiting makes a ResNet-50 step
    5-10x slower than with one (1.5 s vs 7-17 s measured); unloaded, one
    thread costs ~1.4x.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def tiny_imagenet(tmp_path_factory) -> str:
    """ImageNet's layout and annotation lists with a few small JPEGs."""
    return make_tiny_imagenet(str(tmp_path_factory.mktemp('imagenet')))
