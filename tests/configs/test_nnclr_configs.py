"""Checks of the ImageNet NNCLR configs in ``configs/nnclr``.

Every config must load, say in its contents what its file name says
(``{algo}_{backbone}_{gpus}xb{batch}-{schedule}-{epochs}e_{data}.py``),
carry the paper's NNCLR settings, and run one real training step on CPU
at the real input size (224 x 224, batch 2 per view).
"""
import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import load_config, optimizer_groups, parse_config_name
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope

import nnclr_plugin  # noqa: F401  (registers NNCLR, NNCLRHead, ...)

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / 'configs' / 'nnclr'
CONFIGS = sorted(p.name for p in CONFIG_DIR.glob('*.py'))
PAPER_CONFIG = 'nnclr_resnet50_64xb64-lars-coslr-1000e_in1k.py'

# The paper's support set, InfoNCE temperature and projection size.
QUEUE_SIZE = 98304
FEAT_DIM = 256
TEMPERATURE = 0.1


def load(name: str) -> Config:
    return load_config(str(CONFIG_DIR / name))


def model_cfg(cfg: Config) -> dict:
    """``cfg.model`` with the top-level preprocessor, as the Runner does."""
    model = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model.setdefault('data_preprocessor', cfg.data_preprocessor)
    return model


def build_model(cfg: Config) -> torch.nn.Module:
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    model = revert_sync_batchnorm(MODELS.build(model_cfg(cfg)))
    model.init_weights()  # as the Runner does (fixes the ViT pos-embed)
    return model


def test_configs_present():
    assert PAPER_CONFIG in CONFIGS
    assert any(parse_config_name(n)['vit'] for n in CONFIGS)


@pytest.mark.parametrize('name', CONFIGS)
def test_name_matches_contents(name):
    info = parse_config_name(name)
    cfg = load(name)
    assert info['algo'] == 'nnclr'
    assert info['data'] == 'in1k'
    assert 'nnclr_plugin' in cfg.custom_imports['imports']
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.model.type == 'NNCLR'
    assert cfg.train_dataloader.batch_size == info['batch']
    assert cfg.train_dataloader.dataset.type == 'ImageNet'

    # Epochs: the loop, and warm-up + cosine ending exactly there, to 0.
    assert cfg.train_cfg.max_epochs == info['epochs']
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.begin == 0
    assert warmup.convert_to_iter_based and warmup.by_epoch
    assert warmup.end == (40 if info['vit'] else 10)
    assert cosine.type == 'CosineAnnealingLR'
    assert cosine.begin == warmup.end and cosine.end == info['epochs']
    assert cosine.T_max == info['epochs'] - warmup.end
    assert cosine.get('eta_min', 0.) == 0.
    assert cosine.convert_to_iter_based

    # Head: support set, feature size and temperature.
    head = cfg.model.head
    assert head.type == 'NNCLRHead'
    assert head.queue.type == 'SupportSetQueue'
    assert head.queue.size == QUEUE_SIZE
    assert head.queue.size >= info['global_batch']
    assert head.queue.feat_dim == FEAT_DIM == cfg.model.neck.out_channels
    assert head.predictor.in_channels == head.predictor.out_channels == 256
    assert head.queue.block_size and head.queue.block_size < QUEUE_SIZE
    assert head.loss.type == 'NNContrastiveLoss'
    assert head.loss.temperature == TEMPERATURE

    # MLPs: BN after the last projection layer, not after the predictor's.
    assert cfg.model.neck.num_layers == 3 and cfg.model.neck.with_last_bn
    assert head.predictor.num_layers == 2
    assert head.predictor.hid_channels == 4096
    assert not head.predictor.with_last_bn
    for mlp in (cfg.model.neck, head.predictor):
        assert mlp.get('norm_cfg', dict(type='SyncBN'))['type'] == 'SyncBN'

    hooks = [h.type for h in cfg.get('custom_hooks', [])]
    assert 'SupportSetQueueHook' in hooks

    # Optimiser and linear lr scaling to the global batch of the name.
    optim = cfg.optim_wrapper
    assert ('amp' in info['schedule']) == (optim.type == 'AmpOptimWrapper')
    assert cfg.auto_scale_lr.base_batch_size == info['global_batch']
    if info['vit']:
        assert info['backbone'] == 'vit-small-p16'
        assert cfg.model.backbone.type == 'MoCoV3ViT'
        assert cfg.model.backbone.arch == 'mocov3-small'
        assert cfg.model.backbone.patch_size == 16
        assert cfg.model.backbone.stop_grad_conv1
        assert cfg.model.neck.in_channels == 384
        assert cfg.model.neck.hid_channels == 4096
        assert optim.optimizer.type == 'AdamW'
        assert optim.optimizer.lr == pytest.approx(
            1.5e-4 * info['global_batch'] / 256)
        assert optim.optimizer.weight_decay == 0.1
        # DDP wraps the model before init_weights() freezes the pos-embed.
        assert cfg.find_unused_parameters
    else:
        assert info['backbone'] == 'resnet50' and 'lars' in info['schedule']
        backbone = cfg.model.backbone
        assert backbone.type == 'ResNet' and backbone.depth == 50
        assert backbone.norm_cfg.type == 'SyncBN'
        assert backbone.zero_init_residual
        assert cfg.model.neck.in_channels == cfg.model.neck.hid_channels
        assert cfg.model.neck.hid_channels == 2048
        assert optim.optimizer.type == 'LARS'
        assert optim.optimizer.lr == pytest.approx(
            0.3 * info['global_batch'] / 256)
        assert optim.optimizer.weight_decay == 1e-6
        assert optim.optimizer.momentum == 0.9
        assert optim.optimizer.eta == 0.001
        keys = optim.paramwise_cfg.custom_keys
        for key in ('bn', 'bias', 'downsample.1'):
            assert keys[key] == dict(decay_mult=0, lars_exclude=True)


def runner_collate_fn(cfg: Config):
    """``train_dataloader.collate_fn`` as mmengine's Runner builds it."""
    from mmengine.runner import Runner
    return Runner.build_dataloader(dict(
        batch_size=1,
        dataset=[0],
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=copy.deepcopy(cfg.train_dataloader.collate_fn))).collate_fn


@pytest.mark.parametrize('name', CONFIGS)
def test_collate_fn_builds(name):
    from mmpretrain.structures import DataSample
    init_default_scope('mmpretrain')
    collate = runner_collate_fn(load(name))
    img = torch.zeros(3, 8, 8, dtype=torch.uint8)
    batch = collate([dict(inputs=[img, img], data_samples=DataSample())] * 2)
    assert [v.shape for v in batch['inputs']] == [(2, 3, 8, 8)] * 2


@pytest.mark.parametrize('name', CONFIGS)
def test_train_pipeline_runs(name, tmp_path):
    """The configured pipeline + collate_fn on a real JPEG: two 224 views."""
    from mmengine.dataset import Compose
    from PIL import Image

    cfg = load(name)
    init_default_scope('mmpretrain')
    pipeline = Compose(cfg.train_dataloader.dataset.pipeline)
    collate = runner_collate_fn(cfg)
    rng = np.random.RandomState(0)
    path = tmp_path / 'img.JPEG'
    Image.fromarray(rng.randint(0, 256, (180, 240, 3), np.uint8)).save(path)
    np.random.seed(0)  # ColorJitter & co. draw from numpy's global RNG
    samples = [pipeline(dict(img_path=str(path))) for _ in range(8)]
    batch = collate(samples)
    assert len(batch['inputs']) == 2
    for view in batch['inputs']:
        assert view.shape == (8, 3, 224, 224) and view.dtype == torch.uint8
    assert not torch.equal(batch['inputs'][0], batch['inputs'][1])


def views_of(cfg: Config) -> list:
    multiview = [t for t in cfg.train_dataloader.dataset.pipeline
                 if t.type == 'MultiView']
    assert len(multiview) == 1
    assert list(multiview[0].num_views) == [1, 1]
    return multiview[0].transforms


def prob_of(view: list, transform: str) -> float:
    return [t for t in view if t.type == transform][0].prob


# The -gpuaug variants make these ops on the device from the same values:
# tests/configs/test_gpuaug_configs.py.
@pytest.mark.parametrize(
    'name', [n for n in CONFIGS if not n.endswith('-gpuaug.py')])
def test_asymmetric_views(name):
    """BYOL's augmentations: two views, blur/solarise probabilities differ."""
    view1, view2 = views_of(load(name))
    assert view1 != view2
    assert prob_of(view1, 'GaussianBlur') == 1.0
    assert prob_of(view2, 'GaussianBlur') == 0.1
    assert prob_of(view1, 'Solarize') == 0.0
    assert prob_of(view2, 'Solarize') == 0.2
    for view in (view1, view2):
        crop = [t for t in view if t.type == 'RandomResizedCrop'][0]
        assert crop.scale == 224


def test_paper_config_uses_byol_pipeline():
    import mmpretrain
    byol = Config.fromfile(
        Path(mmpretrain.__file__).parent / '.mim' / 'configs' / '_base_' /
        'datasets' / 'imagenet_bs32_byol.py')
    ours = views_of(load(PAPER_CONFIG))
    theirs = views_of(byol)

    def strip(view):
        return [{k: v for k, v in t.items() if k != '_scope_'}
                for t in view]

    assert [strip(v) for v in ours] == [strip(v) for v in theirs]


@pytest.mark.parametrize('name', [n for n in CONFIGS if 'lars' in n])
def test_lars_param_groups(name):
    """No weight decay and no LARS adaptation for every BN param and bias."""
    cfg = load(name)
    model = build_model(cfg)
    group_of = optimizer_groups(cfg, model)
    names = dict(model.named_parameters())
    assert 'backbone.layer1.0.downsample.1.weight' in names
    assert 'neck.bn2.weight' in names  # BN after the last projection fc
    for pname, param in names.items():
        group = group_of[id(param)]
        if param.ndim == 1:  # BN weights/biases, fc biases
            assert group['weight_decay'] == 0, pname
            assert group.get('lars_exclude', False), pname
        else:
            assert group['weight_decay'] == 1e-6, pname
            assert not group.get('lars_exclude', False), pname


@pytest.mark.parametrize('name', CONFIGS)
def test_one_training_step(name):
    from mmpretrain.structures import DataSample

    cfg = load(name)
    torch.manual_seed(0)
    model = build_model(cfg)
    model.train()
    queue = model.head.queue
    assert queue.size == QUEUE_SIZE and queue.feat_dim == FEAT_DIM
    assert model.head.loss_module.temperature == TEMPERATURE
    # ~100 MB, as in training.
    assert queue.queue.numel() * queue.queue.element_size() == \
        QUEUE_SIZE * FEAT_DIM * 4
    queue.begin_step()  # what SupportSetQueueHook does
    # Rows of earlier steps, spread over several lookup blocks, so the step
    # below takes its positives from the support set, block by block.
    queue.enqueue(torch.randn(3 * queue.block_size + 5, FEAT_DIM))
    filled = queue.filled

    batch = 2
    views = [torch.randn(batch, 3, 224, 224) for _ in range(2)]
    samples = [DataSample().set_gt_label(i) for i in range(batch)]
    losses = model.loss(views, samples)
    loss = losses['loss']
    assert torch.isfinite(loss)
    loss.backward()

    stats = queue.end_step()  # enqueues this step's rows
    assert 'nn_similarity' in stats  # the support set was searched
    for pname, param in model.named_parameters():
        if param.requires_grad:  # DDP would need find_unused_parameters
            assert param.grad is not None, f'{pname} got no gradient'
            assert torch.isfinite(param.grad).all(), pname
    backbone_grads = [p.grad for p in model.backbone.parameters()
                      if p.requires_grad]
    assert backbone_grads
    assert any(g.abs().sum() > 0 for g in backbone_grads)

    assert queue.filled == filled + batch
