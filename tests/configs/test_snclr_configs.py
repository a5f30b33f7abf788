"""Checks of the ImageNet SNCLR configs in ``configs/snclr``.

Each config must load, match its file name
(``snclr_{backbone}_{gpus}xb{batch}-{schedule}-{epochs}e_in1k.py``), keep
the release's SNCLR settings (memory 128,000 x 256, K = 30, T = 0.2) on a
stock mmpretrain MoCo v3 model, and run one real training step on CPU at
224 x 224 (batch 2 per view) through the soft-neighbour path.
"""
import copy
from pathlib import Path

import pytest
import torch
from helpers import load_config, optimizer_groups, parse_config_name
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope

import nnclr_plugin  # noqa: F401  (registers SoftNeighborHead, the hook, ...)

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / 'configs' / 'snclr'
CONFIGS = sorted(p.name for p in CONFIG_DIR.glob('*.py'))
EXPECTED = {
    'snclr_vit-small-p16_16xb256-amp-coslr-300e_in1k.py',
    'snclr_vit-base-p16_16xb256-amp-coslr-300e_in1k.py',
    'snclr_resnet50_16xb256-amp-lars-coslr-300e_in1k.py',
    # Views' photometric ops on the GPU (tests/configs/test_gpuaug_configs.py)
    'snclr_vit-small-p16_16xb256-amp-coslr-300e_in1k-gpuaug.py',
    'snclr_resnet50_16xb256-amp-lars-coslr-300e_in1k-gpuaug.py',
}

# The release's (start.sh) SNCLR settings.
QUEUE_SIZE = 128000
FEAT_DIM = 256
TOPK = 30
TEMPERATURE = 0.2
# Base lr per 256 images: the release's ViT value (start.sh --lr=1.5e-5,
# scaled by batch / 256 in main_log.py) and MoCo v3's ResNet-50 LARS value.
VIT_BASE_LR = 1.5e-5
R50_BASE_LR = 0.3


def load(name: str) -> Config:
    return load_config(str(CONFIG_DIR / name))


def build_model(cfg: Config) -> torch.nn.Module:
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    model = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:  # as the Runner does
        model.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = revert_sync_batchnorm(MODELS.build(model))
    model.init_weights()  # as the Runner does (ViT: sin-cos pos-embed)
    return model


def test_configs_present():
    assert set(CONFIGS) == EXPECTED, CONFIGS


@pytest.mark.parametrize('name', CONFIGS)
def test_config_contents(name):
    info = parse_config_name(name)
    assert (info['algo'], info['data']) == ('snclr', 'in1k')
    cfg = load(name)
    assert 'nnclr_plugin' in cfg.custom_imports['imports']
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.model.type == 'MoCoV3'
    assert cfg.model.base_momentum == 0.01  # 0.99 -> 1, cosine
    assert cfg.train_dataloader.batch_size == info['batch']
    assert cfg.train_dataloader.dataset.type == 'ImageNet'
    # The inherited collate_fn keeps mmpretrain's `_scope_` tag; any
    # Runner builds it (nnclr_plugin.compat) and it stacks the views.
    from mmengine.runner import Runner
    from mmpretrain.structures import DataSample
    collate = Runner.build_dataloader(dict(
        batch_size=1, dataset=[0],
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=cfg.train_dataloader.collate_fn)).collate_fn
    img = torch.zeros(3, 8, 8, dtype=torch.uint8)
    views = collate([dict(inputs=[img, img], data_samples=DataSample())] * 2)
    assert [v.shape for v in views['inputs']] == [(2, 3, 8, 8)] * 2
    assert cfg.train_cfg.max_epochs == info['epochs']
    assert cfg.param_scheduler[-1].end == info['epochs']
    assert cfg.param_scheduler[0].end == (40 if info['vit'] else 10)

    head = cfg.model.head
    assert head.type == 'SoftNeighborHead'
    assert head.queue.type == 'SupportSetQueue'
    assert head.queue.size == QUEUE_SIZE >= info['global_batch']
    assert head.queue.feat_dim == FEAT_DIM == cfg.model.neck.out_channels
    assert 0 < head.queue.block_size < QUEUE_SIZE
    assert head.k == TOPK
    assert head.loss.type == 'SoftNeighborContrastiveLoss'
    assert head.loss.temperature == TEMPERATURE
    assert not head.get('positiveness', {}).get('threshold', False)
    assert head.predictor.in_channels == head.predictor.out_channels == 256
    assert head.predictor.hid_channels == 4096
    # The release's ViT predictor ends in an affine-free BN; MoCo v3's
    # ResNet predictor has none.
    assert head.predictor.with_last_bn == info['vit']

    hooks = [h.type for h in cfg.custom_hooks]
    assert 'SupportSetQueueHook' in hooks

    optim = cfg.optim_wrapper
    assert ('amp' in info['schedule']) == (optim.type == 'AmpOptimWrapper')
    assert cfg.auto_scale_lr.base_batch_size == info['global_batch']
    if info['vit']:
        assert cfg.model.backbone.type == 'MoCoV3ViT'
        assert cfg.model.backbone.stop_grad_conv1
        assert optim.optimizer.type == 'AdamW'
        assert optim.optimizer.lr == pytest.approx(
            VIT_BASE_LR * info['global_batch'] / 256)
        assert optim.optimizer.weight_decay == 0.1
        assert cfg.find_unused_parameters
    else:
        assert 'lars' in info['schedule']
        assert cfg.model.backbone.type == 'ResNet'
        assert cfg.model.backbone.depth == 50
        assert optim.optimizer.type == 'LARS'
        assert optim.optimizer.lr == pytest.approx(
            R50_BASE_LR * info['global_batch'] / 256)
        assert optim.optimizer.weight_decay == 1e-6


@pytest.mark.parametrize('name', [n for n in CONFIGS if 'lars' in n])
def test_lars_excludes_bn_and_bias(name):
    """BN parameters and biases: no weight decay, no LARS adaptation."""
    cfg = load(name)
    model = build_model(cfg)
    group_of = optimizer_groups(cfg, model)
    for pname, param in model.named_parameters():
        if not param.requires_grad:
            continue
        group = group_of[id(param)]
        excluded = param.ndim == 1  # BN weights/biases (no fc biases here)
        assert (group['weight_decay'] == 0) == excluded, pname
        assert group.get('lars_exclude', False) == excluded, pname


@pytest.mark.parametrize('name', CONFIGS)
def test_one_training_step(name):
    from mmpretrain.models import MoCoV3
    from mmpretrain.structures import DataSample

    from nnclr_plugin.models import SoftNeighborHead

    cfg = load(name)
    torch.manual_seed(0)
    model = build_model(cfg)
    assert isinstance(model, MoCoV3)
    head = model.head
    assert isinstance(head, SoftNeighborHead)
    assert head.k == TOPK
    assert head.loss_module.temperature == TEMPERATURE
    queue = head.queue
    assert (queue.size, queue.feat_dim) == (QUEUE_SIZE, FEAT_DIM)

    model.train()
    queue.begin_step()  # no Runner, so no SupportSetQueueHook
    # Rows from "earlier steps", so that this step looks up K candidates.
    queue.enqueue(torch.randn(64, FEAT_DIM))
    filled = queue.filled
    assert filled == 64

    batch = 2
    views = [torch.randn(batch, 3, 224, 224) for _ in range(2)]
    loss = model.loss(views, [DataSample() for _ in range(batch)])['loss']
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()

    stats = queue.end_step()  # enqueues this step's rows
    assert 'nn_similarity' in stats  # the memory was searched
    assert 0 < stats['positiveness_max'] <= 1  # candidates were weighted

    backbone_grads = [p.grad for p in model.backbone.parameters()
                      if p.requires_grad]
    assert backbone_grads and all(g is not None for g in backbone_grads)
    assert all(torch.isfinite(g).all() for g in backbone_grads)
    assert any(g.abs().sum() > 0 for g in backbone_grads)
    for pname, param in model.named_parameters():
        if param.requires_grad:
            assert param.grad is not None, f'{pname} got no gradient'
    momentum = list(model.momentum_encoder.parameters())
    assert momentum
    assert all(p.grad is None and not p.requires_grad for p in momentum)

    # Only the first head.loss call per step (MoCo v3's k2) is enqueued.
    assert queue.filled == filled + batch
