"""Tests of the neighbour-grid figure (nnclr_plugin.visualization and
tools/analysis_tools/visualize_neighbors.py)."""
import glob
import importlib.util
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

import nnclr_plugin  # noqa: F401  (registers NNCLR, LocalFashionMNIST, ...)
from nnclr_plugin.datasets import LocalFashionMNIST
from nnclr_plugin.models.memories import SupportSetQueue
from nnclr_plugin.visualization import (draw_neighbor_grid, embed_images,
                                        grid_figure_size, iter_batches,
                                        match_to_gallery, select_queries,
                                        support_set_neighbors)
from nnclr_plugin.visualization.neighbor_grid import DPI

REPO_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
TOOL = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'visualize_neighbors.py')
DATA_ROOT = os.environ.get('NNCLR_DATA_ROOT',
                           osp.join(REPO_ROOT, 'data', 'fashion_mnist'))
DATA_CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                       'fashion_mnist_eval.py')
# The demo's iteration count is part of its file name and may change.
NNCLR_CONFIGS = sorted(
    glob.glob(
        osp.join(REPO_ROOT, 'configs', 'demo',
                 'nnclr_resnet18-c32_*_fashion-mnist.py')))
MISSING_DATA = LocalFashionMNIST.missing_files(DATA_ROOT)
needs_data = pytest.mark.skipif(
    bool(MISSING_DATA) or not NNCLR_CONFIGS,
    reason=(f'Fashion-MNIST files missing from {DATA_ROOT}: {MISSING_DATA} '
            '(run `make data` or set NNCLR_DATA_ROOT)') if MISSING_DATA else
    'no configs/demo/nnclr_resnet18-c32_*_fashion-mnist.py config')

# Queue rows = projections of train images 0..NUM_QUEUED-1, embedded in
# batches of BATCH_SIZE; the tool runs with the same batch size, so its
# gallery projections of those images are bit-identical.
NUM_QUEUED = 200
BATCH_SIZE = 100
MAX_GALLERY = 500


def load_tool():
    spec = importlib.util.spec_from_file_location('visualize_neighbors',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_png(path: str, figure: dict, rows: int, cols: int) -> None:
    """The PNG opens, has the reported size, and its shape follows the
    grid: fixed width per column, fixed height per row below the header."""
    assert osp.isfile(path)
    with Image.open(path) as img:
        img.load()
        size = img.size
    assert size == (figure['width'], figure['height'])
    assert (figure['rows'], figure['cols']) == (rows, cols)
    one_row = grid_figure_size(1, cols)
    assert size[0] == pytest.approx(one_row[0] * DPI, abs=1)
    rows_px = size[1] - figure['header'] * DPI
    assert rows_px / rows == pytest.approx(one_row[1] * DPI, abs=1)


# ----------------------------------------------------------- no data needed
def test_select_queries_is_stratified_and_seeded():
    labels = [c for c in range(5) for _ in range(20)]
    picked = select_queries(labels, 7, seed=3)
    assert len(set(picked)) == 7
    counts = np.bincount(np.asarray(labels)[picked], minlength=5)
    # 7 over 5 classes: every class once, two of them twice.
    assert sorted(counts.tolist()) == [1, 1, 1, 2, 2]
    assert picked == select_queries(labels, 7, seed=3)
    assert picked != select_queries(labels, 7, seed=4)
    # Sorted by class, so a class's rows sit together in the figure.
    assert np.all(np.diff(np.asarray(labels)[picked]) >= 0)
    assert len(select_queries([0, 0, 1], 10)) == 3


def test_queue_rows_that_are_gallery_projections_show_those_images():
    torch.manual_seed(0)
    gallery = F.normalize(torch.randn(50, 16), dim=1)
    perm = torch.randperm(50)[:30]
    queue = SupportSetQueue(size=32, feat_dim=16, gather_distributed=False)
    # Queue row r holds the projection of gallery image perm[r].
    queue.enqueue(gallery[perm], labels=perm % 4)

    idx, sims = match_to_gallery(queue.queue[:30], gallery, block_size=7)
    assert idx.tolist() == perm.tolist()
    torch.testing.assert_close(sims, torch.ones(30))

    query = torch.randn(6, 16)
    nbrs = support_set_neighbors(queue, query, gallery, k=4)
    expected = queue.nearest(query, 4)
    assert torch.equal(nbrs['indices'], expected.indices)
    torch.testing.assert_close(nbrs['sims'], expected.sims)
    assert torch.equal(nbrs['labels'], (perm % 4)[expected.indices])
    # Each neighbour is pictured by exactly its own gallery image.
    assert torch.equal(nbrs['image_indices'], perm[expected.indices])


def test_draw_neighbor_grid_size(tmp_path):
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(9)]
    out = str(tmp_path / 'grid.png')
    figure = draw_neighbor_grid(
        query_imgs=imgs[:3],
        neighbor_imgs=[imgs[3:5], imgs[5:7], imgs[7:9]],
        neighbor_sims=torch.rand(3, 2),
        query_labels=[0, 1, 2],
        neighbor_labels=torch.tensor([[0, 1], [1, -1], [0, 0]]),
        class_names=['a', 'b', 'c'],
        out_file=out,
        title='title ' * 30,
        caption='caption ' * 60,
        neighbor_notes=[['x', ''], ['', 'y'], ['z', 'w']])
    check_png(out, figure, rows=3, cols=3)


# -------------------------------------------------------- Fashion-MNIST runs
@pytest.fixture(scope='module')
def nnclr_checkpoint(tmp_path_factory):
    """A seeded random-init NNCLR demo model whose support set holds the
    projections (and labels) of the first NUM_QUEUED train images."""
    from mmpretrain.registry import DATASETS, MODELS

    init_default_scope('mmpretrain')
    cfg = Config.fromfile(NNCLR_CONFIGS[0])
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    data_cfg = Config.fromfile(DATA_CONFIG)
    train_ds = DATASETS.build(
        dict(data_cfg.train_dataloader.dataset, data_root=DATA_ROOT,
             indices=NUM_QUEUED))
    feats, labels = embed_images(
        model, iter_batches(train_ds, range(NUM_QUEUED), BATCH_SIZE))
    model.head.queue.enqueue(feats, labels)
    assert model.head.queue.filled == NUM_QUEUED
    ckpt = str(tmp_path_factory.mktemp('nnclr') / 'nnclr_random_init.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    return dict(
        ckpt=ckpt, model=model, config=NNCLR_CONFIGS[0], data_cfg=data_cfg,
        mean=cfg.model.data_preprocessor.mean,
        std=cfg.model.data_preprocessor.std)


def run_tool(setup: dict, out: str, *extra: str) -> dict:
    return load_tool().main([
        setup['config'], setup['ckpt'], '--out', out, '--data-root',
        DATA_ROOT, '--max-gallery',
        str(MAX_GALLERY), '--num-queries', '4', '--k', '3', '--batch-size',
        str(BATCH_SIZE), '--device', 'cpu', *extra
    ])


@needs_data
def test_support_set_source_is_the_queue_lookup(nnclr_checkpoint, tmp_path):
    from mmpretrain.registry import DATASETS

    setup = nnclr_checkpoint
    out = str(tmp_path / 'support.png')
    # No --source: a model with a filled SupportSetQueue defaults to it.
    res = run_tool(setup, out)
    assert res['source'] == 'support-set'
    assert res['k'] == 3 and res['queue_filled'] == NUM_QUEUED
    assert len(res['query_indices']) == 4
    # 4 queries from 10 classes: 4 different classes.
    assert len(set(res['query_labels'])) == 4
    check_png(out, res['figure'], rows=4, cols=4)

    # The same queries, projected here by hand, looked up in the queue.
    model = setup['model'].eval()
    queue = model.head.queue
    test_ds = DATASETS.build(
        dict(setup['data_cfg'].val_dataloader.dataset, data_root=DATA_ROOT))
    imgs = torch.stack(
        [test_ds[i]['inputs'] for i in res['query_indices']]).float()
    mean = torch.tensor(setup['mean']).view(1, -1, 1, 1)
    std = torch.tensor(setup['std']).view(1, -1, 1, 1)
    with torch.no_grad():
        query = model.neck(model.backbone((imgs - mean) / std))[0]
    expected = queue.nearest(F.normalize(query, dim=1), 3)
    assert res['neighbor_indices'] == expected.indices.tolist()
    assert res['neighbor_labels'] == queue.labels[expected.indices].tolist()
    torch.testing.assert_close(
        torch.tensor(res['neighbor_sims']), expected.sims, atol=1e-5,
        rtol=0)
    assert res['query_labels'] == [
        test_ds.get_data_info(i)['gt_label'] for i in res['query_indices']
    ]

    # Queue row r holds train image r, which is gallery image r: every
    # neighbour is pictured by exactly the image that was enqueued.
    assert res['image_indices'] == res['neighbor_indices']
    assert res['image_labels'] == res['neighbor_labels']
    assert min(min(row) for row in res['image_sims']) > 1 - 1e-5

    labels = torch.tensor(res['neighbor_labels'])
    agree = (labels == torch.tensor(res['query_labels']).view(-1, 1))
    assert res['label_agreement'] == pytest.approx(float(agree.float().mean()))


@needs_data
def test_dataset_source_is_knn_over_the_gallery(nnclr_checkpoint, tmp_path):
    setup = nnclr_checkpoint
    out = str(tmp_path / 'dataset.png')
    res = run_tool(setup, out, '--source', 'dataset', '--k', '5', '--seed',
                   '1')
    assert res['source'] == 'dataset' and res['k'] == 5
    assert res['image_sims'] is None
    check_png(out, res['figure'], rows=4, cols=6)
    # The images are the neighbours themselves, sorted by similarity.
    assert res['image_indices'] == res['neighbor_indices']
    assert all(0 <= i < MAX_GALLERY for row in res['neighbor_indices']
               for i in row)
    sims = torch.tensor(res['neighbor_sims'])
    assert bool((sims[:, :-1] >= sims[:, 1:]).all())
