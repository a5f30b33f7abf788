"""Extracted backbones load completely into the downstream models.

Every downstream config is built as the Runner builds it, its Pretrained
init_cfgs are pointed at the extracted file the way the launcher does it
(tools/benchmarks/pretrained_init_options.py), ``init_weights()`` runs, and
every backbone tensor is compared with the pretrain checkpoint's
``backbone.*``. The first tests pin down how mmengine's ``PretrainedInit``
treats ``prefix``, which decides how the configs and files must match.
"""
import copy
import importlib.util
import os.path as osp
import runpy
import sys

import pytest
import torch
from downstream_helpers import (
    FASTER_RCNN_VOC,
    FCN_CITYSCAPES,
    FCN_VOC,
    MASK_RCNN_C4,
    MASK_RCNN_FPN,
    R50_LINEAR,
    SEMI_1PCT,
    SEMI_10PCT,
    TOOLS,
    UPERNET_VIT_B,
    UPERNET_VIT_S,
    VIT_B_LINEAR,
    VIT_S_LINEAR,
    assert_same_tensors,
    prefixed,
)
from mmengine.config import Config
from mmengine.registry import init_default_scope

from nnclr_plugin.engine.hooks.pretrained_check_hook import (
    check_pretrained_loaded,
    pretrained_modules,
)
from nnclr_plugin.utils.config import pretrained_init_paths


def build_resnet50(init_cfg):
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    backbone = MODELS.build(
        dict(type='ResNet', depth=50, init_cfg=init_cfg))
    backbone.init_weights()
    return backbone


def state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


# --- what mmengine's PretrainedInit does with `prefix` ---------------------


def test_extracted_file_loads_without_prefix(r50_pretrain, r50_backbone):
    backbone = build_resnet50(
        dict(type='Pretrained', checkpoint=r50_backbone))
    assert_same_tensors(state(backbone), prefixed(r50_pretrain))


def test_extracted_file_with_backbone_prefix_fails(r50_backbone):
    # PretrainedInit keeps only the keys that start with the prefix; the
    # extracted file has none, and mmengine asserts on the empty result.
    with pytest.raises(AssertionError, match='not in the pretrained model'):
        build_resnet50(
            dict(
                type='Pretrained', checkpoint=r50_backbone,
                prefix='backbone.'))


def test_whole_checkpoint_loads_with_backbone_prefix(r50_pretrain):
    # mmpretrain's own benchmark configs work this way.
    backbone = build_resnet50(
        dict(type='Pretrained', checkpoint=r50_pretrain, prefix='backbone.'))
    assert_same_tensors(state(backbone), prefixed(r50_pretrain))


def test_whole_checkpoint_without_prefix_loads_nothing(r50_pretrain):
    # mmengine's silent failure: non-strict loading matches no key, logs a
    # warning, and the backbone keeps its random initialisation. The
    # PretrainedLoadCheckHook of the benchmark configs (tests below) turns
    # it into an error before the first iteration.
    backbone = build_resnet50(
        dict(type='Pretrained', checkpoint=r50_pretrain))
    expected = prefixed(r50_pretrain)
    loaded = [
        k for k, v in state(backbone).items()
        if k.endswith('weight') and torch.equal(v, expected[k])
    ]
    assert loaded == []


# --- the downstream configs -------------------------------------------------


def with_checkpoint(config: str, checkpoint: str) -> Config:
    """``config`` with every Pretrained init pointed at ``checkpoint``."""
    cfg = Config.fromfile(config)
    paths = pretrained_init_paths(cfg.model)
    assert paths, f'{config} loads no pretrained weights'
    cfg.merge_from_dict({f'{p}.checkpoint': checkpoint for p in paths})
    return cfg


def check_all(model) -> int:
    """What PretrainedLoadCheckHook does before the first iteration."""
    found = pretrained_modules(model)
    assert found
    return sum(check_pretrained_loaded(*f) for f in found)


def build_downstream(cfg: Config, check: bool = True):
    """Build ``cfg.model`` in its config's scope (mmpretrain, mmdet or
    mmseg) as the Runner does, run ``init_weights`` and, unless ``check`` is
    False, the load check."""
    from mmengine.registry import MODELS
    init_default_scope(cfg.default_scope)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    if check:
        check_all(model)
    return model


@pytest.mark.parametrize('config', [R50_LINEAR, SEMI_1PCT, SEMI_10PCT],
                         ids=osp.basename)
def test_resnet50_classifiers(config, r50_pretrain, r50_backbone):
    model = build_downstream(with_checkpoint(config, r50_backbone))
    assert_same_tensors(state(model.backbone), prefixed(r50_pretrain))


def test_vit_small_linear(vit_small_pretrain, vit_small_backbone):
    model = build_downstream(with_checkpoint(VIT_S_LINEAR,
                                             vit_small_backbone))
    # pos_embed included: MoCoV3ViT skips its fixed sin-cos embedding when
    # a Pretrained init is configured.
    assert_same_tensors(state(model.backbone), prefixed(vit_small_pretrain))


def test_vit_base_linear(vit_base_pretrain, vit_base_backbone):
    model = build_downstream(with_checkpoint(VIT_B_LINEAR, vit_base_backbone))
    assert_same_tensors(state(model.backbone), prefixed(vit_base_pretrain))


def test_mask_rcnn_fpn(r50_pretrain, r50_backbone):
    model = build_downstream(with_checkpoint(MASK_RCNN_FPN, r50_backbone))
    assert_same_tensors(state(model.backbone), prefixed(r50_pretrain))


def c4_parts(r50_pretrain):
    """The pretrain backbone split as the C4 detector holds it."""
    expected = prefixed(r50_pretrain)
    stages_1_3 = {k: v for k, v in expected.items()
                  if not k.startswith('layer4.')}
    stage_4 = {k: v for k, v in expected.items() if k.startswith('layer4.')}
    return stages_1_3, stage_4


@pytest.mark.parametrize('config', [MASK_RCNN_C4, FASTER_RCNN_VOC],
                         ids=osp.basename)
def test_c4_detectors_load_stage_4_into_the_shared_head(
        config, r50_pretrain, r50_backbone):
    cfg = with_checkpoint(config, r50_backbone)
    assert pretrained_init_paths(cfg.model) == [
        'model.backbone.init_cfg', 'model.roi_head.shared_head.init_cfg'
    ]
    model = build_downstream(cfg)
    stages_1_3, stage_4 = c4_parts(r50_pretrain)
    assert_same_tensors(state(model.backbone), stages_1_3)
    assert_same_tensors(state(model.roi_head.shared_head), stage_4)
    # Pytorch style (stride in the 3x3 conv), as pretrained, not mmdet's
    # caffe-style C4 default.
    assert model.backbone.layer3[0].conv2.stride == (2, 2)
    assert model.roi_head.shared_head.layer4[0].conv2.stride == (2, 2)


def test_mask_rcnn_c4_without_shared_head_init_keeps_random_res5(
        r50_pretrain, r50_backbone):
    # Why the config sets roi_head.shared_head.init_cfg: mmdet's C4 base
    # has none, and stage 4 would then start from random weights.
    cfg = with_checkpoint(MASK_RCNN_C4, r50_backbone)
    cfg.model.roi_head.shared_head.pop('init_cfg')
    model = build_downstream(cfg, check=False)
    _, stage_4 = c4_parts(r50_pretrain)
    head = state(model.roi_head.shared_head)
    assert not any(
        torch.equal(head[k], v) for k, v in stage_4.items()
        if k.endswith('conv1.weight'))


# --- semantic segmentation (mmseg) -------------------------------------------

needs_mmseg = pytest.mark.skipif(
    importlib.util.find_spec('mmseg') is None,
    reason='mmsegmentation not installed (requirements/segmentation.txt)')


@needs_mmseg
@pytest.mark.parametrize('config', [FCN_VOC, FCN_CITYSCAPES],
                         ids=osp.basename)
def test_fcn_d8_resnet_loads_every_tensor(config, r50_pretrain,
                                          r50_backbone):
    model = build_downstream(with_checkpoint(config, r50_backbone))
    assert_same_tensors(state(model.backbone), prefixed(r50_pretrain))
    # Still the D8 network: stages 3 and 4 keep stride 8, dilated by 2 / 4.
    for stage, dilation in ((model.backbone.layer3, 2),
                            (model.backbone.layer4, 4)):
        assert stage[0].conv2.stride == (1, 1)
        assert stage[1].conv2.dilation == (dilation, dilation)


@needs_mmseg
def test_mmseg_default_resnet_v1c_would_miss_the_stem(r50_backbone):
    # Why the FCN configs switch to ResNet: mmseg's ResNetV1c has a deep
    # stem (stem.*) where the pretrain backbone has conv1 / bn1.
    cfg = with_checkpoint(FCN_VOC, r50_backbone)
    cfg.model.backbone.type = 'ResNetV1c'
    model = build_downstream(cfg, check=False)
    with pytest.raises(RuntimeError, match=r"missing \(e.g. \['stem"):
        check_all(model)


@needs_mmseg
@pytest.mark.parametrize(
    'config, pretrain_fixture, backbone_fixture',
    [(UPERNET_VIT_S, 'vit_small_pretrain', 'vit_small_backbone'),
     (UPERNET_VIT_B, 'vit_base_pretrain', 'vit_base_backbone')],
    ids=['vit-small', 'vit-base'])
def test_upernet_vit_loads_every_tensor(config, pretrain_fixture,
                                        backbone_fixture, request):
    from mmpretrain.models.utils import resize_pos_embed
    pretrain = request.getfixturevalue(pretrain_fixture)
    backbone = request.getfixturevalue(backbone_fixture)
    model = build_downstream(with_checkpoint(config, backbone))
    own, expected = state(model.backbone), prefixed(pretrain)
    own_pos, file_pos = own.pop('pos_embed'), expected.pop('pos_embed')
    assert_same_tensors(own, expected)
    # The 224 px grid (14 x 14 + class token) resized bicubically to the
    # 512 px one (32 x 32), the class token's entry unchanged.
    assert file_pos.shape[1] == 1 + 14 * 14
    assert torch.equal(
        own_pos, resize_pos_embed(file_pos, (14, 14), (32, 32), 'bicubic', 1))


@needs_mmseg
def test_missing_mmseg_is_a_clear_error(monkeypatch, capsys, tmp_path):
    # What a user without the extra sees from tools/train.py.
    import mmengine.config.config as mmengine_config
    monkeypatch.setattr(mmengine_config, 'is_installed',
                        lambda package: package != 'mmsegmentation')
    monkeypatch.setattr(sys, 'argv', [
        'train.py', FCN_VOC, '--work-dir', str(tmp_path)])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(osp.join(TOOLS, 'train.py'), run_name='__main__')
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert 'mmsegmentation is not installed' in err
    assert "pip install -e '.[segmentation]'" in err


# --- the check that turns a silent mis-load into an error -------------------


@pytest.mark.parametrize('config', [R50_LINEAR, SEMI_1PCT, MASK_RCNN_FPN,
                                    MASK_RCNN_C4], ids=osp.basename)
def test_whole_pretrain_checkpoint_without_prefix_is_an_error(
        config, r50_pretrain):
    cfg = with_checkpoint(config, r50_pretrain)
    model = build_downstream(cfg, check=False)
    with pytest.raises(RuntimeError) as err:
        check_all(model)
    message = str(err.value)
    assert 'model.backbone.init_cfg loaded only 0 of' in message
    assert r50_pretrain in message
    assert "'backbone." in message  # the file's key names are shown
    assert 'extract_backbone_weights.py' in message and 'prefix' in message


def test_wrong_prefix_is_an_error(r50_pretrain):
    cfg = with_checkpoint(R50_LINEAR, r50_pretrain)
    cfg.model.backbone.init_cfg.prefix = 'neck.'
    model = build_downstream(cfg, check=False)
    with pytest.raises(RuntimeError, match="prefix='neck.'"):
        check_all(model)


def test_other_architecture_counts_mismatched_shapes_as_not_loaded(
        tmp_path):
    # A ResNet-50 of half width has every name of the config's ResNet-50
    # but few of its shapes. Before: "loaded only 320 of 320"
    # and the prefix advice, which does not apply.
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    narrow = MODELS.build(dict(type='ResNet', depth=50, base_channels=32))
    file = str(tmp_path / 'narrow.pth')
    torch.save(dict(state_dict=narrow.state_dict()), file)
    model = build_downstream(with_checkpoint(R50_LINEAR, file), check=False)
    own = model.backbone.state_dict()
    fits = sum(v.shape == narrow.state_dict()[k].shape
               for k, v in own.items())
    assert fits < len(own) // 4  # the 64-channel stem and BN counters
    with pytest.raises(RuntimeError) as err:
        check_all(model)
    message = str(err.value)
    assert f'loaded only {fits} of {len(own)} tensors' in message
    assert f'{len(own) - fits} with another shape' in message
    assert 'another architecture' in message
    assert 'extract_backbone_weights' not in message


def test_timm_named_file_is_an_error(vit_small_pretrain, tmp_path):
    from downstream_helpers import extract
    timm_file = extract(vit_small_pretrain, str(tmp_path / 'timm.pth'),
                        out_format='timm-vit')
    model = build_downstream(with_checkpoint(VIT_S_LINEAR, timm_file),
                             check=False)
    with pytest.raises(RuntimeError, match='missing'):
        check_all(model)
