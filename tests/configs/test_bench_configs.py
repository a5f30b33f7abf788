"""The quality benchmark's configs stand on their own bases: editing a demo
(configs/demo/) cannot change the benchmark whose committed results
(docs/results/quality/) describe these configs."""
import ast
import glob
import os.path as osp

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BENCH = sorted(glob.glob(osp.join(REPO, 'configs', 'bench', '*.py')))
DEMO = osp.join(REPO, 'configs', 'demo')


def bases(path: str) -> list:
    """Every local file ``path`` inherits from, transitively."""
    tree = ast.parse(open(path).read())
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                getattr(t, 'id', None) == '_base_' for t in node.targets):
            value = ast.literal_eval(node.value)
            for base in [value] if isinstance(value, str) else value:
                if '::' in base:
                    continue  # a package's config (mmpretrain::...)
                base = osp.normpath(osp.join(osp.dirname(path), base))
                found += [base] + bases(base)
    return found


def test_bases_follows_the_demo_chain():
    # The walker itself: a demo's chain reaches its dataset base.
    demo = osp.join(DEMO, 'nnclr_resnet18-c32_1xb128-coslr-300it_'
                    'fashion-mnist.py')
    assert osp.join(REPO, 'configs', '_base_', 'datasets',
                    'fashion_mnist_ssl.py') in bases(demo)


@pytest.mark.parametrize('path', BENCH, ids=osp.basename)
def test_bench_config_inherits_nothing_from_the_demos(path):
    chain = bases(path)
    assert chain, path
    demo_files = [b for b in chain
                  if b.startswith(DEMO + osp.sep)
                  or osp.basename(b).startswith('demo_')
                  or osp.basename(b) == 'fashion_mnist_ssl.py']
    assert not demo_files, demo_files


@pytest.mark.parametrize('path', BENCH, ids=osp.basename)
def test_bench_config_is_complete(path):
    # What the demo chain used to provide must now come from the bench's
    # own base: the optimiser, the loader, the loop, the seed.
    cfg = Config.fromfile(path, import_custom_modules=False)
    assert cfg.optim_wrapper.optimizer.type == 'SGD'
    assert cfg.train_dataloader.dataset.type == 'LocalFashionMNIST'
    assert '_delete_' not in cfg.train_dataloader
    assert cfg.train_cfg.max_iters == 1000
    assert cfg.randomness.seed == 0
    assert cfg.model.data_preprocessor.type == 'BatchMultiViewPreprocessor'
    assert '_delete_' not in cfg.model.data_preprocessor
