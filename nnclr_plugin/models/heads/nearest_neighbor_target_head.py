"""Nearest-neighbour targets for any (prediction, target) head."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from .support_set_head import SupportSetMixin, check_embedding_pair

# Heads whose ``loss(input, target)`` compares a prediction made from
# ``input`` with an embedding ``target`` of the same shape: replacing the
# target by a support-set neighbour is meaningful for them.
WRAPPABLE_HEADS = ('LatentPredictHead', 'MoCoV3Head')


@MODELS.register_module()
class NearestNeighborTargetHead(SupportSetMixin, BaseModule):
    """Swap the target side of a head for its support-set nearest neighbour.

    Wraps a head with the ``loss(input, target)`` shape of mmpretrain's
    ``LatentPredictHead`` (BYOL, SimSiam) or ``MoCoV3Head`` (MoCo v3) and
    calls it with ``target`` replaced by its nearest neighbour (or the
    normalised mean of its top-k) in a :class:`SupportSetQueue`, as the
    NNCLR paper does with other losses. The original targets are enqueued
    by :class:`SupportSetQueueHook` after the step. With ``k=0``, an empty
    queue or during warm-up, the wrapped head is called unchanged.

    Args:
        head (dict): Config of the wrapped head (``LatentPredictHead``,
            ``MoCoV3Head`` or a subclass).
        queue (dict): Config of the :class:`SupportSetQueue`; its
            ``feat_dim`` is the target dimension.
        k (int): Neighbours per target; 0 disables the swap. Defaults to 1.
        enqueue (str): ``'first'``: enqueue the targets of the first
            ``loss`` call per step; ``'all'``: of every call.
            Defaults to ``'first'``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 head: dict,
                 queue: dict,
                 k: int = 1,
                 enqueue: str = 'first',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        head_cls = MODELS.get(head['type']) if isinstance(
            head.get('type'), str) else head.get('type')
        if head_cls is None:
            raise KeyError(f'NearestNeighborTargetHead: head type '
                           f"{head['type']!r} is not registered")
        bases = {c.__name__ for c in head_cls.__mro__}
        if not bases & set(WRAPPABLE_HEADS):
            raise TypeError(
                f'NearestNeighborTargetHead cannot wrap {head_cls.__name__}: '
                'it needs a head whose loss(input, target) compares a '
                'prediction with a target embedding, one of '
                f'{", ".join(WRAPPABLE_HEADS)} (BYOL, SimSiam, MoCo v3). '
                f'{head_cls.__name__} takes something else (ContrastiveHead '
                'takes positive/negative similarity logits); for NN '
                "positives with an InfoNCE loss use type='NNCLR' with "
                "NNCLRHead, or NNCLRHead under type='MoCoV3'")
        self.head = MODELS.build(head)
        self.build_support_set(queue, k, enqueue, k_min=0)

    def target(self, target_out: torch.Tensor) -> torch.Tensor:
        """The neighbour that replaces ``target_out`` (no gradient), or
        ``target_out`` itself when the swap is off."""
        nbrs = self.neighbors(target_out)
        if nbrs is None:
            return target_out
        nn_target = F.normalize(nbrs.feats.mean(dim=1), dim=1)
        return nn_target.to(target_out.dtype)

    def loss(self, base_out: torch.Tensor,
             target_out: torch.Tensor) -> torch.Tensor:
        """The wrapped head's loss against the neighbour of ``target_out``.

        Args:
            base_out (Tensor): ``(N, D)`` online embeddings.
            target_out (Tensor): ``(N, D)`` targets (momentum projections
                for BYOL/MoCo v3, the other view for SimSiam).

        Returns:
            Tensor: The wrapped head's loss.
        """
        check_embedding_pair(type(self).__name__, base_out, target_out)
        loss = self.head.loss(base_out, self.target(target_out))
        self.stash_targets(target_out)
        return loss
