"""Stop a run at the first non-finite loss, before it is checkpointed."""
import math
import os.path as osp
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from nnclr_plugin.utils.checkpoint_files import DIVERGED, LAST_GOOD, read_text
from nnclr_plugin.utils.checks import check_bool

DATA_BATCH = Optional[Sequence[dict]]


class NonFiniteLossError(FloatingPointError):
    """A training loss or a parameter about to be saved is NaN or inf."""


def _as_float(value) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().mean())
    return float(value)


def loss_terms(outputs: Optional[Dict]) -> Dict:
    """The numeric terms (tensors and numbers) of a train step's outputs."""
    return {k: v for k, v in (outputs or {}).items()
            if isinstance(v, (torch.Tensor, float, int))}


def losses_finite(outputs: Optional[Dict]) -> bool:
    """Whether every loss term of a train step's outputs is finite (on
    this process)."""
    return all(math.isfinite(_as_float(v))
               for v in loss_terms(outputs).values())


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
        values = loss_terms(outputs)
        finite = losses_finite(outputs)
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
        diverged = self._mark_unconfirmed(runner)
        raise NonFiniteLossError(
            f'Non-finite loss at iteration {runner.iter + 1} ({terms} on '
            'this process). Training stopped before this state was saved; '
            f'the last good checkpoint is {last_good_checkpoint(runner)}'
            + (f' ({diverged} was saved after it, but its weights gave this '
               'loss: --resume skips it)' if diverged else '') + '. '
            'Common causes: learning rate too high (optim_wrapper.optimizer.'
            'lr), a temperature close to 0, or fp16 overflow (try '
            'AmpOptimWrapper with dtype=bfloat16 or a lower loss scale).')

    @staticmethod
    def _mark_unconfirmed(runner) -> Optional[str]:
        """Name, in ``<work_dir>/diverged_after``, a checkpoint saved after
        the last good one (its weights produced this loss), so that
        ``tools/train.py --resume`` passes over it. Returns its path."""
        newest = read_text(osp.join(runner.work_dir, 'last_checkpoint'))
        good = read_text(osp.join(runner.work_dir, LAST_GOOD))
        if not newest or newest == good:
            return None
        if is_main_process():
            with open(osp.join(runner.work_dir, DIVERGED), 'w') as f:
                f.write(newest)
        return newest

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
                f'{last_good_checkpoint(runner)}.')


def last_good_checkpoint(runner) -> str:
    """The newest checkpoint a finite step trained on (``SafeCheckpointHook``
    writes ``<work_dir>/last_good_checkpoint``), for the messages."""
    good = read_text(osp.join(runner.work_dir, LAST_GOOD))
    if good:
        return good
    if read_text(osp.join(runner.work_dir, 'last_checkpoint')):
        return 'none (no checkpoint was trained on with a finite loss yet)'
    return 'none (no checkpoint written yet)'
