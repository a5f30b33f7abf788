"""NN / soft-neighbour parts inside stock mmpretrain algorithms."""
import ast
import glob
import os.path as osp

import mmpretrain
import pytest
import torch
import torch.nn.functional as F
from helpers import REPO, SIMCLR_DEMO, small_train_cfg, unwrap
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain import models as mmpretrain_models
from mmpretrain.registry import MODELS

init_default_scope('mmpretrain')

# The -gpuaug variants only move view ops: test_gpuaug_configs.py.
COMPOSED = sorted(p for p in glob.glob(
    osp.join(REPO, 'configs', 'composed', '*.py'))
    if not p.endswith('-gpuaug.py'))
NN_DEMOS = sorted(glob.glob(osp.join(REPO, 'configs', 'demo', 'nn-*.py')))
STOCK = {'nn-byol': 'BYOL', 'nn-simsiam': 'SimSiam', 'nn-mocov3': 'MoCoV3'}


def stock_class(path):
    return getattr(mmpretrain_models, STOCK[osp.basename(path).split('_')[0]])


def stock_base(path):
    """The `mmpretrain::` config a composed config inherits from."""
    tree = ast.parse(open(path).read())
    base = next(ast.literal_eval(node.value) for node in tree.body
                if isinstance(node, ast.Assign)
                and node.targets[0].id == '_base_')
    assert base.startswith('mmpretrain::'), base
    return base[len('mmpretrain::'):]


def without_scope(obj):
    """Drop the `_scope_` keys that `mmpretrain::` inheritance adds."""
    if isinstance(obj, dict):
        return {k: without_scope(v) for k, v in obj.items() if k != '_scope_'}
    if isinstance(obj, (list, tuple)):
        return type(obj)(without_scope(v) for v in obj)
    return obj


def predictor_cfg(dim=8):
    return dict(
        type='NonLinearNeck', in_channels=dim, hid_channels=16,
        out_channels=dim, num_layers=2, with_last_bn=False,
        with_avg_pool=False, norm_cfg=dict(type='BN1d'))


INNER = {
    'LatentPredictHead':
    dict(type='LatentPredictHead', predictor=predictor_cfg(),
         loss=dict(type='CosineSimilarityLoss')),
    'MoCoV3Head':
    dict(type='MoCoV3Head', predictor=predictor_cfg(),
         loss=dict(type='CrossEntropyLoss', loss_weight=0.4),
         temperature=0.2),
}


def wrapper(inner, k=1):
    return MODELS.build(
        dict(type='NearestNeighborTargetHead', head=INNER[inner],
             queue=dict(type='SupportSetQueue', size=32, feat_dim=8), k=k))


def test_composed_configs_cover_byol_simsiam_mocov3():
    assert {osp.basename(p).split('_')[0] for p in COMPOSED} == set(STOCK)
    assert {osp.basename(p).split('_')[0] for p in NN_DEMOS} == set(STOCK)


@pytest.mark.parametrize('path', COMPOSED, ids=osp.basename)
def test_composed_config_builds_the_stock_algorithm(path):
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    assert type(model) is stock_class(path)  # mmpretrain's class, no copy
    assert type(model.head).__name__ == 'NearestNeighborTargetHead'
    assert any(h['type'] == 'SupportSetQueueHook' for h in cfg.custom_hooks)
    assert model.head.queue.feat_dim == \
        model.head.head.predictor.fc0.in_features
    # Only the head (and hooks) changed with respect to the stock config.
    base_name = stock_base(path)
    base = Config.fromfile(
        osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs',
                 base_name))
    mine, stock = without_scope(cfg.to_dict()), without_scope(base.to_dict())
    for key in ('type', 'backbone', 'neck'):
        assert mine['model'][key] == stock['model'][key], key
    assert mine['model']['head']['head'] == stock['model']['head']
    for key in ('optim_wrapper', 'param_scheduler', 'train_dataloader',
                'train_cfg'):
        assert mine[key] == stock[key], key


@pytest.mark.parametrize('inner', sorted(INNER))
@pytest.mark.parametrize('k, fill', [(0, 20), (1, 0)],
                         ids=['k=0', 'empty-queue'])
def test_without_neighbours_the_wrapper_is_the_wrapped_head(inner, k, fill):
    torch.manual_seed(0)
    head = wrapper(inner, k=k).eval()
    if fill:
        head.queue.enqueue(torch.randn(fill, 8))
    base, target = torch.randn(6, 8), torch.randn(6, 8)
    assert torch.equal(head.loss(base, target), head.head.loss(base, target))


@pytest.mark.parametrize('inner', sorted(INNER))
def test_target_is_replaced_by_its_nearest_neighbour(inner):
    torch.manual_seed(1)
    head = wrapper(inner).eval()
    rows = torch.randn(20, 8)
    head.queue.enqueue(rows)
    base, target = torch.randn(6, 8), torch.randn(6, 8)
    unit = F.normalize(rows, dim=1)
    nn = unit[(F.normalize(target, dim=1) @ unit.T).argmax(dim=1)]
    assert torch.allclose(head.loss(base, target), head.head.loss(base, nn))


def test_wrapping_a_contrastive_head_fails_at_build_time():
    with pytest.raises(TypeError) as err:
        MODELS.build(
            dict(type='NearestNeighborTargetHead',
                 head=dict(type='ContrastiveHead',
                           loss=dict(type='CrossEntropyLoss')),
                 queue=dict(type='SupportSetQueue', size=8, feat_dim=8)))
    msg = str(err.value)
    assert 'cannot wrap ContrastiveHead' in msg
    assert 'LatentPredictHead' in msg and "type='NNCLR'" in msg


def test_nnclr_head_under_simclr_is_a_clear_error(tmp_path):
    cfg = small_train_cfg(SIMCLR_DEMO, str(tmp_path))
    cfg.model.head = dict(
        type='NNCLRHead', predictor=predictor_cfg(128),
        queue=dict(type='SupportSetQueue', size=64, feat_dim=128))
    cfg.custom_hooks = [dict(type='SupportSetQueueHook')]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match="SimCLR's head receives"):
        runner.train()


@pytest.mark.parametrize('path', NN_DEMOS, ids=osp.basename)
def test_nn_demo_trains_with_the_stock_algorithm(tmp_path, path):
    cfg = small_train_cfg(path, str(tmp_path), max_iters=4, batch_size=16,
                          queue_size=None)
    cfg.model.head.queue.size = 32
    for hook in cfg.custom_hooks:
        if hook['type'] == 'SupportSetQueueHook':
            hook['warmup_iters'] = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = unwrap(runner.model)
    assert type(model) is stock_class(path)
    assert model.head.queue.filled == 32
    sims, _ = runner.message_hub.get_scalar(
        'train/support_set/nn_similarity').data
    assert len(sims) == 3  # lookups from the 2nd iteration on
    losses, _ = runner.message_hub.get_scalar('train/loss').data
    assert all(map(lambda v: v == v, losses))  # no NaN
