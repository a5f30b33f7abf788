"""Input checks of tools/analysis_tools/visualize_downstream.py (the
pictures themselves are drawn in
tests/configs/benchmarks/test_downstream_runs.py from the checkpoints those
runs train)."""
import glob
import os.path as osp

import numpy as np
import pytest
from helpers import REPO

from nnclr_plugin.apis import visualize_downstream

FCN_VOC = osp.join(REPO, 'configs', 'benchmarks', 'mmsegmentation',
                   'fcn_r50-d8_4xb4-20k_voc12aug-512x512.py')
NNCLR_DEMO = sorted(glob.glob(osp.join(
    REPO, 'configs', 'demo', 'nnclr_resnet18-c32_*_fashion-mnist.py')))[0]


def test_pretrain_config_is_refused_with_its_scope():
    with pytest.raises(ValueError, match="default_scope='mmpretrain'"):
        visualize_downstream.load_config(NNCLR_DEMO, None)


def test_missing_test_set_names_the_data_root(tmp_path):
    pytest.importorskip('mmseg')
    cfg = visualize_downstream.load_config(
        FCN_VOC,
        {'test_dataloader.dataset.data_root': str(tmp_path / 'no_voc')})
    with pytest.raises(FileNotFoundError) as err:
        visualize_downstream.test_images(cfg, 2)
    assert 'no_voc' in str(err.value)
    assert 'test_dataloader.dataset.data_root' in str(err.value)


def test_missing_checkpoint_is_named(tmp_path):
    missing = str(tmp_path / 'iter_1.pth')
    # The same message as the other tools (utils.checkpoint_files).
    with pytest.raises(RuntimeError,
                       match='checkpoint: .*iter_1.pth does not exist'):
        visualize_downstream.main(
            [FCN_VOC, missing, '--out', str(tmp_path / 'x.png')])


def test_rows_keep_the_aspect_ratio_and_stack_left_aligned():
    wide = np.zeros((50, 100, 3), np.uint8)
    tall = np.full((100, 50, 3), 255, np.uint8)
    row = visualize_downstream.side_by_side([wide, tall], height=64)
    assert row.shape == (64, 128 + 32, 3)
    grid = visualize_downstream.stack_rows(
        [row, visualize_downstream.side_by_side([wide], height=64)])
    assert grid.shape == (2 * (64 + 4), 160, 3)
    # The shorter second row is padded with white on the right.
    assert (grid[68:132, 128:] == 255).all()
