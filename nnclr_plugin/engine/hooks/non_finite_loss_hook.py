"""Stop a run at the first non-finite loss, before it is checkpointed."""
import math
import os.path as osp
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from nnclr_plugin.utils.checks import check_bool

DATA_BATCH = Optional[Sequence[dict]]


class NonFiniteLossError(FloatingPointError):
    """A training loss or a parameter about to be saved is NaN or inf."""


def _as_float(value) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().mean())
    return float(value)


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training when a loss becomes NaN or infinite.

    After every iteration the loss terms the model returned are checked;
    under DDP the verdict is one all-reduced flag, so every process stops
    at the same iteration instead of the healthy ones hanging in the next
    collective. The hook runs before ``CheckpointHook`` (priority
    ``ABOVE_NORMAL`` vs ``VERY_LOW``), so the iteration that produced the
    non-finite loss is never saved and ``last_checkpoint`` keeps naming
    the last good checkpoint. A parameter can turn non-finite in the very
    step whose loss was still finite (the update overflows), so before any
    checkpoint is written the model's floating-point tensors are checked
    too — a cost paid only at checkpoint time.

    Args:
        check_checkpoint (bool): Also refuse to save a checkpoint whose
            state dict holds NaN or inf. Defaults to True.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, check_checkpoint: bool = True) -> None:
        check_bool('NonFiniteLossHook', check_checkpoint=check_checkpoint)
        self.check_checkpoint = check_checkpoint

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[Dict] = None) -> None:
        if not outputs:
            return
        values = {k: v for k, v in outputs.items()
                  if isinstance(v, (torch.Tensor, float, int))}
        finite = all(math.isfinite(_as_float(v)) for v in values.values())
        if get_world_size() > 1:
            flag = torch.tensor([float(finite)])
            if torch.cuda.is_available() and torch.distributed.get_backend(
            ) == 'nccl':
                flag = flag.cuda()
            all_reduce(flag, op='min')
            finite = bool(flag.item())
        if finite:
            return
        terms = ', '.join(f'{k}={_as_float(v):.6g}' for k, v in values.items())
        raise NonFiniteLossError(
            f'Non-finite loss at iteration {runner.iter + 1} ({terms} on '
            'this process). Training stopped before this state was saved; '
            f'the last checkpoint is {self._last_checkpoint(runner)}. '
            'Common causes: learning rate too high (optim_wrapper.optimizer.'
            'lr), a temperature close to 0, or fp16 overflow (try '
            'AmpOptimWrapper with dtype=bfloat16 or a lower loss scale).')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.check_checkpoint:
            return
        bad = [
            k for k, v in checkpoint.get('state_dict', {}).items()
            if isinstance(v, torch.Tensor) and v.is_floating_point()
            and not torch.isfinite(v).all()
        ]
        if bad:
            raise NonFiniteLossError(
                'Refusing to save the checkpoint of iteration '
                f'{checkpoint.get("meta", {}).get("iter", runner.iter)}'
                f': {len(bad)} tensors hold NaN or inf (e.g. {bad[:3]}). '
                'The last good checkpoint is '
                f'{self._last_checkpoint(runner)}.')

    @staticmethod
    def _last_checkpoint(runner) -> str:
        path = osp.join(runner.work_dir, 'last_checkpoint')
        if osp.isfile(path):
            with open(path) as f:
                return f.read().strip() or 'none'
        return 'none (no checkpoint written yet)'
