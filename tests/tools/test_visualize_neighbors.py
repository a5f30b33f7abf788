"""Tests of the neighbour-grid figure (nnclr_plugin.visualization and
tools/analysis_tools/visualize_neighbors.py)."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import REPO as REPO_ROOT
from helpers import synthetic_fmnist_root
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

import nnclr_plugin  # noqa: F401  (registers NNCLR, LocalFashionMNIST, ...)
from nnclr_plugin.apis import visualize_neighbors
from nnclr_plugin.evaluation import extract_features, iter_batches
from nnclr_plugin.visualization import draw_neighbor_grid, select_queries

DATA_ROOT = synthetic_fmnist_root()
DATA_CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                       'fashion_mnist_eval.py')
# The demo's iteration count is part of its file name and may change.
NNCLR_CONFIGS = sorted(
    glob.glob(
        osp.join(REPO_ROOT, 'configs', 'demo',
                 'nnclr_resnet18-c32_*_fashion-mnist.py')))

# Queue row r holds the projection of train image STORED[r], a shuffled
# choice among the first 500, with that image's label and dataset index.
NUM_QUEUED = 200
BATCH_SIZE = 100
MAX_GALLERY = 500
STORED = torch.randperm(MAX_GALLERY,
                        generator=torch.Generator().manual_seed(0))[:NUM_QUEUED]


def check_png(path: str, figure: dict, rows: int, cols: int) -> None:
    """The PNG opens, has the size the tool reports, and the grid the
    expected number of query rows and columns (query + k neighbours)."""
    assert osp.isfile(path)
    with Image.open(path) as img:
        img.load()
        size = img.size
    assert size == (figure['width'], figure['height'])
    assert (figure['rows'], figure['cols']) == (rows, cols)


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


def test_draw_neighbor_grid_shows_every_image_once(tmp_path):
    # Nine flat images, each its own grey level: every level must show up
    # as a whole tile (at least the tile's pixel count at 28 x 28 scaled
    # down by half), i.e. each query and neighbour is drawn, none twice.
    levels = [5, 35, 65, 95, 125, 155, 185, 215, 245]
    imgs = [np.full((28, 28), v, dtype=np.uint8) for v in levels]
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
    with Image.open(out) as img:
        pixels = np.asarray(img.convert('L'))
    counts = [int((pixels == v).sum()) for v in levels]
    assert min(counts) > 14 * 14, counts
    # Equal tiles: no image drawn larger or twice.
    assert max(counts) < 1.5 * min(counts), counts


# -------------------------------------------------------- Fashion-MNIST runs
@pytest.fixture(scope='module')
def nnclr_checkpoint(tmp_path_factory):
    """A seeded random-init NNCLR demo model whose support set holds the
    projections, labels and dataset indices of the train images STORED."""
    from mmpretrain.registry import DATASETS, MODELS

    init_default_scope('mmpretrain')
    cfg = Config.fromfile(NNCLR_CONFIGS[0])
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    data_cfg = Config.fromfile(DATA_CONFIG)
    train_ds = DATASETS.build(
        dict(data_cfg.train_dataloader.dataset, data_root=DATA_ROOT))
    feats, labels = extract_features(
        model, iter_batches(train_ds, STORED.tolist(), BATCH_SIZE),
        projection=True)
    model.head.queue.enqueue(feats, labels=labels, sample_idx=STORED)
    assert model.head.queue.filled == NUM_QUEUED
    ckpt = str(tmp_path_factory.mktemp('nnclr') / 'nnclr_random_init.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    return dict(
        ckpt=ckpt, model=model, config=NNCLR_CONFIGS[0], data_cfg=data_cfg,
        mean=cfg.model.data_preprocessor.mean,
        std=cfg.model.data_preprocessor.std)


def run_tool(setup: dict, out: str, *extra: str) -> dict:
    return visualize_neighbors.main([
        setup['config'], setup['ckpt'], '--out', out, '--data-root',
        DATA_ROOT, '--data-config', DATA_CONFIG, '--max-gallery',
        str(MAX_GALLERY), '--num-queries', '4', '--k', '3', '--batch-size',
        str(BATCH_SIZE), '--device', 'cpu', *extra
    ])


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

    # Every neighbour is pictured by exactly the image that was enqueued.
    assert res['image_indices'] == STORED[expected.indices].tolist()

    labels = torch.tensor(res['neighbor_labels'])
    agree = (labels == torch.tensor(res['query_labels']).view(-1, 1))
    assert res['label_agreement'] == pytest.approx(float(agree.float().mean()))


def test_dataset_source_is_knn_over_the_gallery(nnclr_checkpoint, tmp_path):
    setup = nnclr_checkpoint
    out = str(tmp_path / 'dataset.png')
    res = run_tool(setup, out, '--source', 'dataset', '--k', '5', '--seed',
                   '1')
    assert res['source'] == 'dataset' and res['k'] == 5
    check_png(out, res['figure'], rows=4, cols=6)
    # The images are the neighbours themselves, sorted by similarity.
    assert res['image_indices'] == res['neighbor_indices']
    assert all(0 <= i < MAX_GALLERY for row in res['neighbor_indices']
               for i in row)
    sims = torch.tensor(res['neighbor_sims'])
    assert bool((sims[:, :-1] >= sims[:, 1:]).all())


def test_support_set_without_matching_images_is_refused(nnclr_checkpoint,
                                                        tmp_path):
    setup = nnclr_checkpoint
    state = torch.load(setup['ckpt'], weights_only=False)['state_dict']
    # A support set from before sample indices were stored.
    old = dict(state, **{'head.queue.sample_idx': torch.full_like(
        state['head.queue.sample_idx'], -1)})
    old_ckpt = str(tmp_path / 'old.pth')
    torch.save({'state_dict': old, 'meta': {}}, old_ckpt)
    with pytest.raises(ValueError, match='--source dataset'):
        run_tool(dict(setup, ckpt=old_ckpt), str(tmp_path / 'old.png'))
    # Rows that claim other images than the data config holds there.
    wrong = dict(state, **{'head.queue.sample_idx':
                           (state['head.queue.sample_idx'] + 1) % 500})
    wrong_ckpt = str(tmp_path / 'wrong.pth')
    torch.save({'state_dict': wrong, 'meta': {}}, wrong_ckpt)
    with pytest.raises(ValueError, match='pretrained on'):
        run_tool(dict(setup, ckpt=wrong_ckpt), str(tmp_path / 'wrong.png'))
