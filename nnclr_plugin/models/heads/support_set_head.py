"""What every support-set head does: build and check its queue, look up
neighbours or fall back to the view itself, stash its targets."""
from typing import Optional

import torch
from mmpretrain.registry import MODELS
from torch import nn

from ..memories import Neighbors, SupportSetQueue

ENQUEUE_MODES = ('first', 'all')


def check_embedding_pair(owner: str, base_out: torch.Tensor,
                         target_out: torch.Tensor) -> None:
    """Clear error when an algorithm hands a head something else than two
    ``(N, D)`` embeddings (e.g. SimCLR passes similarity logits)."""
    if base_out.dim() != 2 or base_out.shape != target_out.shape:
        raise ValueError(
            f'{owner}.loss expects two (N, D) embeddings, as passed by '
            'NNCLR, MoCoV3, BYOL and SimSiam (head.loss(online, target)); '
            f'got {tuple(base_out.shape)} and {tuple(target_out.shape)}. '
            "SimCLR's head receives similarity logits and cannot take a "
            'support set: use type=\'NNCLR\' instead')


def linear_out_features(module: nn.Module) -> Optional[int]:
    """``out_features`` of the last ``nn.Linear`` in ``module``, if any."""
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return linears[-1].out_features if linears else None


def linear_in_features(module: nn.Module) -> Optional[int]:
    """``in_features`` of the first ``nn.Linear`` in ``module``, if any."""
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return linears[0].in_features if linears else None


def check_head_dims(neck: nn.Module, head: nn.Module) -> None:
    """Fail at build time when the neck does not feed the head's queue."""
    neck_out = linear_out_features(neck)
    if neck_out is None:
        return
    queue = getattr(head, 'queue', None)
    if queue is not None and queue.feat_dim != neck_out:
        raise ValueError(
            f'model.neck outputs {neck_out}-d projections but '
            f'model.head.queue.feat_dim={queue.feat_dim}; set them equal')
    predictor = getattr(head, 'predictor', None)
    pred_in = None if predictor is None else linear_in_features(predictor)
    if pred_in is not None and pred_in != neck_out:
        raise ValueError(
            f'model.neck outputs {neck_out}-d projections but '
            f'model.head.predictor takes in_channels={pred_in}')


class SupportSetMixin:
    """Mixed into a head (an ``nn.Module``) that owns a support set.

    Call :meth:`build_support_set` in ``__init__``; then :meth:`neighbors`
    gives the top-``k`` rows for a batch of targets or None when the head
    must fall back to the targets themselves (``k == 0``, empty queue, the
    hook's warm-up), and :meth:`stash_targets` hands the step's targets to
    the queue, which enqueues them when :class:`SupportSetQueueHook` ends
    the step after the optimiser step. Diagnostics go to the queue's open
    step (``self.queue.record``).
    """

    queue: SupportSetQueue
    k: int
    enqueue: str

    def build_support_set(self, queue: dict, k: int, enqueue: str,
                          k_min: int) -> None:
        """Build ``self.queue`` and check ``k`` and ``enqueue``.

        Args:
            queue (dict): Config of the :class:`SupportSetQueue`.
            k (int): Neighbours per target, in ``[k_min, queue.size]``.
            enqueue (str): ``'first'``: stash the targets of the first loss
                call of a step; ``'all'``: of every call.
            k_min (int): 1 when the head needs a neighbour, 0 when ``k=0``
                switches neighbours off.
        """
        owner = type(self).__name__
        self.queue = MODELS.build(queue)
        if not isinstance(k, int) or isinstance(k, bool) or \
                not k_min <= k <= self.queue.size:
            raise ValueError(f'{owner}: k={k!r} must be an int in [{k_min}, '
                             f'queue.size={self.queue.size}]')
        if enqueue not in ENQUEUE_MODES:
            raise ValueError(f'{owner}: enqueue must be one of '
                             f'{ENQUEUE_MODES}, got {enqueue!r}')
        self.k = k
        self.enqueue = enqueue

    def neighbors(self, targets: torch.Tensor) -> Optional[Neighbors]:
        """Top-``k`` support-set rows of each target, or None (fall back)."""
        return self.queue.lookup(targets, self.k)

    def stash_targets(self, targets: torch.Tensor) -> None:
        """Hand this call's targets to the queue (training only)."""
        if self.training and self.k > 0:
            self.queue.stash(targets,
                                  first_only=self.enqueue == 'first')
