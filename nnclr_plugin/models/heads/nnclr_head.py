"""NNCLR head: prediction MLP, support set and nearest-neighbour InfoNCE."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..memories import SupportSetQueue
from .arguments import check_support_set_args
from .nearest_neighbor_target_head import check_embedding_pair

TOPK_MODES = ('mean', 'sample')


@MODELS.register_module()
class NNCLRHead(BaseModule):
    """Head of NNCLR (Dwibedi et al., ICCV 2021).

    ``loss(base_out, target_out)`` predicts from ``base_out`` and contrasts
    the prediction with the nearest neighbour of ``target_out`` in the
    support set: ``InfoNCE(NN(target_out), predictor(base_out))``. The
    neighbour comes from a buffer, so it carries no gradient.

    The signature is that of mmpretrain's ``MoCoV3Head``, so the head also
    works under a stock ``type='MoCoV3'`` (NN positives from a momentum
    target). The :class:`NNCLR` algorithm calls it twice per step,
    ``loss(z2, z1)`` then ``loss(z1, z2)``.

    Before any row has been enqueued, and during the warm-up iterations of
    :class:`SupportSetQueueHook`, the positive is ``target_out`` itself
    (detached, like a neighbour would be).

    Args:
        predictor (dict): Config of the prediction MLP (a neck taking and
            returning a tuple, e.g. ``NonLinearNeck``).
        queue (dict): Config of the :class:`SupportSetQueue`.
        loss (dict): Config of the loss taking ``(positives, predictions)``.
            Defaults to ``NNContrastiveLoss`` with temperature 0.1.
        k (int): Neighbours per query. With ``k > 1``, ``topk_mode`` says
            how they make one positive. Defaults to 1.
        topk_mode (str): ``'mean'``: the normalised mean of the top-k
            neighbours; ``'sample'``: one of the top-k drawn uniformly per
            query (torch's RNG). Ignored when ``k == 1``. Defaults to
            ``'mean'``.
        enqueue (str): Which target rows go into the queue each step:
            ``'first'`` the target side of the first ``loss`` call (NNCLR's
            view 1), ``'all'`` the target sides of every call.
            Defaults to ``'first'``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 predictor: dict,
                 queue: dict,
                 loss: dict = dict(type='NNContrastiveLoss', temperature=0.1),
                 k: int = 1,
                 topk_mode: str = 'mean',
                 enqueue: str = 'first',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.predictor = MODELS.build(predictor)
        self.queue: SupportSetQueue = MODELS.build(queue)
        self.loss_module = MODELS.build(loss)
        check_support_set_args('NNCLRHead', k, 1, self.queue, enqueue)
        if topk_mode not in TOPK_MODES:
            raise ValueError(f'NNCLRHead: topk_mode must be one of '
                             f'{TOPK_MODES}, got {topk_mode!r}')
        self.k = k
        self.topk_mode = topk_mode
        self.enqueue = enqueue

    def positives(self,
                  target: torch.Tensor,
                  labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Replace each target row by its support-set positive.

        Args:
            target (Tensor): ``(N, D)`` projections.
            labels (Tensor, optional): ``(N,)`` labels, only for the
                NN-agreement diagnostic.

        Returns:
            Tensor: ``(N, D)`` positives, unit norm, no gradient.
        """
        queue = self.queue
        if queue.is_empty or not queue.use_neighbors:
            return F.normalize(target.detach(), dim=1)
        nbrs = queue.nearest(target, self.k)
        if self.k == 1:
            pos = nbrs.feats[:, 0]
        elif self.topk_mode == 'mean':
            pos = F.normalize(nbrs.feats.mean(dim=1), dim=1)
        else:
            pick = torch.randint(
                nbrs.feats.shape[1], (nbrs.feats.shape[0], 1, 1),
                device=nbrs.feats.device).expand(-1, 1, nbrs.feats.shape[2])
            pos = nbrs.feats.gather(1, pick)[:, 0]
        queue.record_lookup(nbrs, labels)
        return pos.to(target.dtype)

    def loss(self,
             base_out: torch.Tensor,
             target_out: torch.Tensor,
             labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """One direction of the NNCLR loss.

        Args:
            base_out (Tensor): ``(N, D)`` projections that go through the
                predictor (gradient flows here).
            target_out (Tensor): ``(N, D)`` projections whose nearest
                neighbours are the positives; enqueued after the step.
            labels (Tensor, optional): ``(N,)`` labels for diagnostics.

        Returns:
            Tensor: Scalar loss.
        """
        check_embedding_pair(type(self).__name__, base_out, target_out)
        pred = self.predictor([base_out])[0]
        pos = self.positives(target_out, labels)
        loss = self.loss_module(pos, pred)
        if self.training:
            self.queue.stash(target_out, labels,
                             first_only=self.enqueue == 'first')
        return loss
