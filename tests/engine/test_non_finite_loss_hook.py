"""NonFiniteLossHook: stop at the first NaN loss, keep the last good ckpt."""
import os.path as osp

import pytest
import torch
from helpers import NNCLR_DEMO, small_train_cfg
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS

from nnclr_plugin.engine.hooks import NonFiniteLossError


@HOOKS.register_module(force=True)
class _PoisonInputsHook(Hook):
    """Test helper: replaces one batch's images by inf (a real NaN loss)."""

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at_iter:
            data_batch['inputs'] = [
                torch.full_like(v, float('inf'), dtype=torch.float32)
                for v in data_batch['inputs']
            ]


@HOOKS.register_module(force=True)
class _PoisonWeightsHook(Hook):
    """Test helper: a parameter overflows after a step with a finite loss."""
    priority = 'LOW'  # after NonFiniteLossHook, before CheckpointHook

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.at_iter:
            with torch.no_grad():
                runner.model.backbone.conv1.weight.fill_(float('nan'))


def guarded_cfg(work_dir, poison):
    cfg = small_train_cfg(NNCLR_DEMO, work_dir, max_iters=6, batch_size=16,
                          checkpoint_interval=2)
    cfg.default_hooks.checkpoint.update(type='SafeCheckpointHook',
                                        max_keep_ckpts=1)
    cfg.custom_hooks.append(poison)
    return cfg


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    work_dir = str(tmp_path)
    cfg = guarded_cfg(work_dir, dict(type='_PoisonInputsHook', at_iter=5))
    assert cfg.default_hooks.non_finite_loss.type == 'NonFiniteLossHook'
    runner = Runner.from_cfg(cfg)
    with pytest.raises(NonFiniteLossError,
                       match=r'Non-finite loss at iteration 5 \(loss=nan'):
        runner.train()
    assert last_checkpoint(work_dir).endswith('iter_4.pth')
    assert not osp.exists(osp.join(work_dir, 'iter_6.pth'))
    state = torch.load(last_checkpoint(work_dir))['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values()
               if v.is_floating_point())


def test_non_finite_weights_are_never_checkpointed(tmp_path):
    work_dir = str(tmp_path)
    cfg = guarded_cfg(work_dir, dict(type='_PoisonWeightsHook', at_iter=4))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(NonFiniteLossError,
                       match='Refusing to save the checkpoint of iteration 4'):
        runner.train()
    assert last_checkpoint(work_dir).endswith('iter_2.pth')
    assert osp.exists(osp.join(work_dir, 'iter_2.pth'))
    assert not osp.exists(osp.join(work_dir, 'iter_4.pth'))


def test_without_the_guard_the_nan_run_finishes_silently(tmp_path):
    # What the hook protects against: mmengine alone trains on and saves.
    work_dir = str(tmp_path)
    cfg = guarded_cfg(work_dir, dict(type='_PoisonInputsHook', at_iter=5))
    cfg.default_hooks.pop('non_finite_loss')
    Runner.from_cfg(cfg).train()
    state = torch.load(last_checkpoint(work_dir))['state_dict']
    assert last_checkpoint(work_dir).endswith('iter_6.pth')
    assert not all(torch.isfinite(v).all() for v in state.values()
                   if v.is_floating_point())


@HOOKS.register_module(force=True)
class _CrashWhileSavingHook(Hook):
    """Test helper: the checkpoint write fails half-way (as on a kill or a
    full disk): an unpicklable object makes torch.save raise after it has
    written part of the file."""

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def before_save_checkpoint(self, runner, checkpoint):
        if checkpoint['meta']['iter'] == self.at_iter:
            checkpoint['meta']['unpicklable'] = lambda: None


@pytest.mark.parametrize('hook_type', ['SafeCheckpointHook', 'CheckpointHook'])
def test_failed_write_keeps_the_previous_checkpoint(tmp_path, hook_type):
    work_dir = str(tmp_path)
    cfg = guarded_cfg(work_dir, dict(type='_CrashWhileSavingHook', at_iter=4))
    cfg.default_hooks.checkpoint.type = hook_type
    with pytest.raises(Exception, match='pickle|lambda'):
        Runner.from_cfg(cfg).train()
    if hook_type == 'CheckpointHook':
        # mmengine alone: the good iter_2.pth was deleted before the write
        # and last_checkpoint is not updated - nothing readable is left.
        assert not osp.exists(osp.join(work_dir, 'iter_2.pth'))
        return
    assert last_checkpoint(work_dir).endswith('iter_2.pth')
    state = torch.load(last_checkpoint(work_dir))
    assert state['meta']['iter'] == 2
    assert not osp.exists(osp.join(work_dir, 'iter_4.pth'))
