"""The plugin installs into the OpenMMLab stack and its basics work."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import (
    FMNIST_ROOT,
    REPO,
    SIMCLR_DEMO,
    requires_fmnist,
    synthetic_fmnist_root,
)

import nnclr_plugin  # noqa: F401


def test_import_registers_into_mmpretrain_registries():
    from mmengine.registry import MODEL_WRAPPERS
    from mmpretrain.registry import DATASETS, HOOKS, MODELS, TRANSFORMS
    for name in ('NNCLR', 'NNCLRHead', 'SupportSetQueue',
                 'NNContrastiveLoss'):
        assert MODELS.get(name) is not None, name
    assert HOOKS.get('SupportSetQueueHook') is not None
    assert DATASETS.get('LocalFashionMNIST') is not None
    assert TRANSFORMS.get('GrayBrightnessContrast') is not None
    assert MODEL_WRAPPERS.get('CPUDistributedDataParallel') is not None


def test_components_resolve_from_an_mmdet_scope():
    from mmdet.registry import MODELS as DET_MODELS
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        queue = DET_MODELS.build(
            dict(type='mmpretrain.SupportSetQueue', size=4, feat_dim=2))
    assert type(queue).__name__ == 'SupportSetQueue'


def test_mmcv_ops_nms_and_roi_align_on_cpu():
    from mmcv.ops import RoIAlign, nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.],
                          [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    # Box 1 overlaps box 0 with IoU 81/119 > 0.5 and is suppressed.
    assert keep.tolist() == [0, 2]
    assert torch.allclose(dets[:, 4], torch.tensor([0.9, 0.7]))

    feat = torch.arange(16.).view(1, 1, 4, 4)
    rois = torch.tensor([[0., 0., 0., 4., 4.]])
    out = RoIAlign((2, 2), spatial_scale=1., sampling_ratio=1,
                   aligned=False)(feat, rois)
    # Each bin samples its centre: (1, 1), (1, 3), (3, 1), (3, 3), where
    # bilinear interpolation of 4 * y + x gives these values.
    assert torch.allclose(out.view(-1), torch.tensor([5., 7., 13., 15.]))


def test_missing_data_root_is_one_clear_message(tmp_path):
    from nnclr_plugin.datasets import LocalFashionMNIST
    with pytest.raises(FileNotFoundError) as err:
        LocalFashionMNIST(data_root=str(tmp_path / 'nowhere'))
    msg = str(err.value)
    assert str(tmp_path / 'nowhere') in msg
    assert 'train-images-idx3-ubyte' in msg
    assert 'dataset-fashion-mnist' in msg and 'NNCLR_DATA_ROOT' in msg
    (tmp_path / 'train-images-idx3-ubyte').write_bytes(b'')
    with pytest.raises(FileNotFoundError) as err:
        LocalFashionMNIST(data_root=str(tmp_path))
    assert 'lacks train-labels-idx1-ubyte' in str(err.value)
    assert 'train-images-idx3-ubyte,' not in str(err.value)


@requires_fmnist
def test_local_fashion_mnist_splits():
    """The real files (``make setup``): split sizes and image format."""
    from nnclr_plugin.datasets import LocalFashionMNIST
    train = LocalFashionMNIST(data_root=FMNIST_ROOT, split='train',
                              indices=10)
    test = LocalFashionMNIST(data_root=FMNIST_ROOT, split='test')
    assert len(test) == 10000  # split='test' alone selects the test files
    img = train.get_data_info(0)['img']
    assert img.shape == (28, 28) and img.dtype == np.uint8


def test_gray_brightness_contrast_keeps_shape_and_range():
    from nnclr_plugin.datasets import GrayBrightnessContrast
    np.random.seed(0)
    img = np.random.randint(0, 256, (28, 28), dtype=np.uint8)
    out = GrayBrightnessContrast(0.4, 0.4)(dict(img=img.copy()))['img']
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not np.array_equal(out, img)
    same = GrayBrightnessContrast(0., 0.)(dict(img=img.copy()))['img']
    assert np.array_equal(same, img)
    with pytest.raises(ValueError, match='brightness'):
        GrayBrightnessContrast(brightness=1.5)


def test_train_cli_trains_saves_and_resumes(tmp_path):
    """tools/train.py: 2 iterations, then --resume continues to 3."""
    work = str(tmp_path / 'work')
    root = synthetic_fmnist_root()
    common = [
        sys.executable, osp.join(REPO, 'tools', 'train.py'), SIMCLR_DEMO,
        '--work-dir', work, '--cfg-options', f'data_root={root}',
        f'train_dataloader.dataset.data_root={root}',
        'train_dataloader.dataset.indices=64', 'train_dataloader.batch_size=8',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'default_hooks.checkpoint.interval=1', 'param_scheduler=[]'
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1')

    def run(*extra):
        proc = subprocess.run([*common, *extra], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout + proc.stderr

    run('train_cfg.max_iters=2')
    assert osp.exists(osp.join(work, 'iter_2.pth'))
    log = run('train_cfg.max_iters=3', '--resume')
    assert 'resumed epoch: 0, iter: 2' in log, log[-2000:]
    assert osp.exists(osp.join(work, 'iter_3.pth'))
    ckpt = torch.load(osp.join(work, 'iter_3.pth'))  # weights_only default
    assert ckpt['meta']['iter'] == 3


def test_colour_jitter_hue_works_with_numpy_2():
    """mmcv 2.1's adjust_hue overflows on numpy >= 2 for negative shifts;
    the plugin's replacement keeps mmcv's result for positive shifts and
    wraps negative ones around the hue circle."""
    import mmcv
    from mmpretrain.datasets.transforms import ColorJitter
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 2] = 200  # pure red (BGR)
    for backend in ('pillow', 'cv2'):
        plus = mmcv.adjust_hue(img, 0.1, backend=backend)
        minus = mmcv.adjust_hue(img, -0.1, backend=backend)
        # +36 degrees moves red towards yellow (G rises), -36 towards
        # magenta (B rises); value and saturation are kept.
        assert plus[0, 0, 1] > 0 and plus[0, 0, 0] == 0
        assert minus[0, 0, 0] > 0 and minus[0, 0, 1] == 0
        assert plus[0, 0, 2] == minus[0, 0, 2] == 200
        assert np.array_equal(mmcv.adjust_hue(img, 0., backend=backend), img)
    jitter = ColorJitter(hue=0.5)
    np.random.seed(0)
    for _ in range(20):  # about half of the draws are negative
        out = jitter(dict(img=img.copy()))['img']
        assert out.shape == img.shape


def test_package_config_paths_and_collate_scope():
    from mmengine.config import Config
    from mmengine.runner import Runner

    from nnclr_plugin.compat import drop_collate_fn_scope
    from nnclr_plugin.utils import resolve_config_path
    path = resolve_config_path(
        'mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py')
    assert osp.isfile(path) and path.endswith('.mim/configs/byol/'
                                              'byol_resnet50_16xb256-coslr-'
                                              '200e_in1k.py')
    assert resolve_config_path('configs/x.py') == 'configs/x.py'
    with pytest.raises(FileNotFoundError, match='no config'):
        resolve_config_path('mmpretrain::nope/none.py')
    cfg = Config(dict(train_dataloader=dict(
        collate_fn=dict(type='default_collate', _scope_='mmpretrain'))))
    drop_collate_fn_scope(cfg)
    assert cfg.train_dataloader.collate_fn == dict(type='default_collate')
    # Any Runner (not only tools/train.py) builds a loader whose collate_fn
    # was tagged by `mmpretrain::` inheritance, and its batches collate.
    loader = Runner.build_dataloader(dict(
        batch_size=2,
        dataset=[{'x': 1}, {'x': 2}],
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate', _scope_='mmpretrain')))
    assert next(iter(loader))['x'].tolist() == [1, 2]


def test_mmpretrain_imports_beside_transformers_5(tmp_path):
    """With transformers >= 5 installed, mmpretrain 1.2.0's multimodal
    models make ``import mmpretrain.models`` fail (seen on a CUDA machine
    image); importing the plugin first turns them into mmpretrain's
    placeholders, which say what to install."""
    pkg = tmp_path / 'transformers'
    pkg.mkdir()
    # torch 2.1's dynamo patches PretrainedConfig of any installed
    # transformers on import: without it the stock import would fail for
    # that reason instead of the one the fix targets.
    (pkg / '__init__.py').write_text(
        "__version__ = '5.0.0'\nfrom . import configuration_utils\n")
    (pkg / 'configuration_utils.py').write_text(
        'class PretrainedConfig:\n    pass\n')
    info = tmp_path / 'transformers-5.0.0.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: transformers\nVersion: 5.0.0\n')
    env = dict(os.environ, PYTHONPATH=f'{tmp_path}{os.pathsep}{REPO}')

    def run(code):
        return subprocess.run([sys.executable, '-c', code], env=env,
                              capture_output=True, text=True, cwd=REPO)

    plain = run('import mmpretrain.models')
    # It fails where mmpretrain imports transformers for its multimodal
    # models (the fix's target), not somewhere else.
    assert plain.returncode != 0
    assert 'from transformers import' in plain.stderr, plain.stderr[-2000:]
    assert 'torch/_dynamo' not in plain.stderr, plain.stderr[-2000:]
    fixed = run(
        'import nnclr_plugin, mmpretrain.models\n'
        'from mmpretrain.registry import MODELS\n'
        'try:\n'
        '    MODELS.build(dict(type="BlipCaption"))\n'
        'except ImportError as err:\n'
        '    print("placeholder:", err)\n')
    assert fixed.returncode == 0, fixed.stderr
    assert 'placeholder:' in fixed.stdout and 'multi-modal' in fixed.stdout
    assert 'transformers 5.0.0 is installed' in fixed.stderr
