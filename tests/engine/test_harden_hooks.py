"""tools/train.py hardens any config: safe checkpoints and a NaN guard."""
from mmengine.config import Config

from nnclr_plugin.utils.cli import harden_hooks


def test_stock_checkpoint_hook_becomes_safe_and_guard_is_added():
    cfg = Config(dict(default_hooks=dict(
        checkpoint=dict(type='CheckpointHook', interval=5,
                        max_keep_ckpts=2))))
    harden_hooks(cfg)
    assert cfg.default_hooks.checkpoint == dict(
        type='mmpretrain.SafeCheckpointHook', interval=5, max_keep_ckpts=2)
    assert cfg.default_hooks.non_finite_loss.type == \
        'mmpretrain.NonFiniteLossHook'


def test_existing_guard_and_custom_checkpoint_hooks_are_kept():
    cfg = Config(dict(
        default_hooks=dict(checkpoint=dict(type='MyCheckpointHook')),
        custom_hooks=[dict(type='NonFiniteLossHook', check_checkpoint=False)
                      ]))
    harden_hooks(cfg)
    assert cfg.default_hooks.checkpoint.type == 'MyCheckpointHook'
    assert 'non_finite_loss' not in cfg.default_hooks


def test_guard_can_be_left_out():
    cfg = Config(dict())
    harden_hooks(cfg, non_finite_guard=False)
    assert 'non_finite_loss' not in cfg.default_hooks


def test_pretrained_check_is_added_where_weights_are_loaded():
    cfg = Config(dict(model=dict(backbone=dict(init_cfg=[
        dict(type='Kaiming'),
        dict(type='Pretrained', checkpoint='x.pth')
    ]))))
    harden_hooks(cfg)
    assert cfg.custom_hooks == [
        dict(type='mmpretrain.PretrainedLoadCheckHook')
    ]
    plain = Config(dict(model=dict(backbone=dict(init_cfg=None))))
    harden_hooks(plain)
    assert not plain.get('custom_hooks')


def test_error_suggestions():
    from nnclr_plugin.utils.user_errors import suggestion
    assert "type='NNCLRHead'" in suggestion(
        'NNCLRHaed is not in the mmpretrain::model registry. Please check')
    assert 'did you mean size=' in suggestion(
        "SupportSetQueue.__init__() got an unexpected keyword argument "
        "'szie'")
    assert 'make setup' in suggestion("No module named 'mmcv._ext'")
    assert suggestion('something else entirely') is None

