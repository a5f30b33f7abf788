"""Hook that owns the lifecycle of every SupportSetQueue in a model."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from nnclr_plugin.models.heads.support_set_head import check_head_dims
from nnclr_plugin.models.memories import SupportSetQueue
from nnclr_plugin.utils.checks import check_int
from nnclr_plugin.utils.samples import sample_label

DATA_BATCH = Optional[Sequence[dict]]


def uneven_batch_problem(num_samples: int, world_size: int, batch_size: int,
                         round_up: bool, drop_last: bool) -> Optional[str]:
    """Why a data loader's batches would break the support set, or None.

    Every process all-gathers the same number of rows per step, and
    BatchNorm cannot train on a one-row batch. With ``round_up=False``
    the ranks get unequal shares when the data set does not divide by
    the number of processes; with ``drop_last=False`` the last batch of
    an epoch may hold a single row; ``batch_size=1`` makes every batch one.
    """
    if world_size > 1 and not round_up and num_samples % world_size:
        return (f'train_dataloader.sampler.round_up=False with {num_samples} '
                f'samples on {world_size} processes gives the processes '
                'unequal numbers of samples, and the support set\'s '
                'all-gather needs equal batches on every process: set '
                'train_dataloader.sampler.round_up=True (the default)')
    if batch_size == 1:
        return ('train_dataloader.batch_size=1: every batch holds one '
                'sample per process, which BatchNorm cannot train on and '
                'which leaves the contrastive loss no other sample to '
                'contrast with: use a batch_size of 2 or more')
    per_rank = -(-num_samples // world_size) if round_up or world_size == 1 \
        else num_samples // world_size
    if not drop_last and per_rank % batch_size == 1:
        return (f'the last batch of every epoch holds 1 sample ({per_rank} '
                f'samples per process, batch_size={batch_size}), which '
                'BatchNorm cannot train on: set '
                'train_dataloader.drop_last=True or another batch_size')
    return None


def batch_meta(data_batch) -> Dict[str, Optional[torch.Tensor]]:
    """Ground-truth labels and dataset indices of a batch's samples.

    Each is None unless every sample has one (an unlabelled or multi-label
    dataset, or a pipeline whose ``PackInputs`` drops ``sample_idx``).
    """
    samples = data_batch.get('data_samples') if isinstance(
        data_batch, dict) else None
    meta = dict(labels=None, sample_idx=None)
    if not samples:
        return meta
    try:
        labels = [sample_label(s) for s in samples]
    except ValueError:
        labels = [None]  # multi-label data: no single class to agree on
    if None not in labels:
        meta['labels'] = torch.tensor(labels)
    if all('sample_idx' in s for s in samples):
        meta['sample_idx'] = torch.tensor(
            [int(s.sample_idx) for s in samples])
    return meta


def find_queues(model) -> List[Tuple[str, SupportSetQueue]]:
    """``(path, queue)`` for each :class:`SupportSetQueue` in ``model``."""
    if is_model_wrapper(model):
        model = model.module
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, SupportSetQueue)]


@HOOKS.register_module()
class SupportSetQueueHook(Hook):
    """Fill, check and monitor the support sets of any model.

    Before training it checks that every queue holds at least one global
    batch. Before each iteration it opens every queue's step
    (:meth:`SupportSetQueue.begin_step`) with the batch's labels and dataset
    indices (:func:`batch_meta`; stored with the rows for diagnostics only,
    so no algorithm or head carries them) and, during warm-up, lookups off.
    After the iteration it ends the step (:meth:`SupportSetQueue.end_step`),
    which enqueues what the model stashed (so lookups never see the current
    batch), and logs, per queue, ``support_set/fill`` (share of valid rows)
    and the step's diagnostics: ``nn_similarity`` (mean cosine of the top-1
    neighbour), ``nn_label_agreement`` (share of top-1 neighbours of the
    query's class) and the heads' own diagnostics.

    Args:
        warmup_iters (int): During the first ``warmup_iters`` iterations
            queues are filled but not used for lookups: heads fall back to
            the view's own projection as positive. Defaults to 0.
    """

    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW) saves the queue

    def __init__(self, warmup_iters: int = 0) -> None:
        check_int('SupportSetQueueHook', minimum=0, warmup_iters=warmup_iters)
        self.warmup_iters = warmup_iters
        self.queues: List[Tuple[str, SupportSetQueue]] = []

    def before_train(self, runner) -> None:
        self.queues = find_queues(runner.model)
        if not self.queues:
            raise ValueError(
                'SupportSetQueueHook is in custom_hooks but the model '
                f'({type(runner.model).__name__}) contains no '
                'SupportSetQueue; remove the hook or use a head with one')
        # Algorithms of mmpretrain (MoCoV3, BYOL, ...) build a support-set
        # head without checking it against their neck: a mismatch would
        # surface as a shape error inside the first step.
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        if hasattr(model, 'neck') and hasattr(model, 'head'):
            check_head_dims(model.neck, model.head)
        global_batch = runner.train_dataloader.batch_size * get_world_size()
        for name, queue in self.queues:
            if queue.size < global_batch:
                raise ValueError(
                    f'model.{name}.size={queue.size} is smaller than the '
                    f'global batch ({runner.train_dataloader.batch_size} per '
                    f'process x {get_world_size()} processes = '
                    f'{global_batch}); the support set must hold at least '
                    'one global batch')
        loader = runner.train_dataloader
        sampler = getattr(loader, 'sampler', None)
        if hasattr(sampler, 'round_up') and hasattr(loader, 'dataset'):
            problem = uneven_batch_problem(
                len(loader.dataset), get_world_size(), loader.batch_size,
                sampler.round_up, loader.drop_last)
            if problem:
                raise ValueError(problem)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        # Derived from the iteration counter, so a resumed run agrees.
        use = runner.iter >= self.warmup_iters
        meta = batch_meta(data_batch)
        for _, queue in self.queues:
            queue.begin_step(meta, use_neighbors=use)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        hub = runner.message_hub
        for name, queue in self.queues:
            stats = queue.end_step()
            prefix = 'train/support_set/' if len(self.queues) == 1 else \
                f'train/support_set/{name}/'
            hub.update_scalar(prefix + 'fill', queue.filled / queue.size)
            for key, value in stats.items():
                hub.update_scalar(prefix + key, value)
