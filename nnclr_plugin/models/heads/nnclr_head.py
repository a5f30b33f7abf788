"""NNCLR head: prediction MLP, support set and nearest-neighbour InfoNCE."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from .support_set_head import SupportSetMixin, check_embedding_pair

TOPK_MODES = ('mean', 'sample')


@MODELS.register_module()
class NNCLRHead(SupportSetMixin, BaseModule):
    """Head of NNCLR (Dwibedi et al., ICCV 2021).

    ``loss(base_out, target_out)`` predicts from ``base_out`` and contrasts
    the prediction with the nearest neighbour of ``target_out`` in the
    support set: ``InfoNCE(NN(target_out), predictor(base_out))``. The
    neighbour comes from a buffer, so it carries no gradient.

    The signature is that of mmpretrain's ``MoCoV3Head``, so the head also
    works under a stock ``type='MoCoV3'`` (NN positives from a momentum
    target). The :class:`NNCLR` algorithm calls :meth:`symmetric_loss`,
    which is ``(loss(z2, z1) + loss(z1, z2)) / 2`` with one lookup for both
    views.

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
        self.loss_module = MODELS.build(loss)
        self.build_support_set(queue, k, enqueue, k_min=1)
        if topk_mode not in TOPK_MODES:
            raise ValueError(f'NNCLRHead: topk_mode must be one of '
                             f'{TOPK_MODES}, got {topk_mode!r}')
        self.topk_mode = topk_mode

    def positives(self, target: torch.Tensor) -> torch.Tensor:
        """Replace each target row by its support-set positive.

        Args:
            target (Tensor): ``(N, D)`` projections.

        Returns:
            Tensor: ``(N, D)`` positives, unit norm, no gradient.
        """
        nbrs = self.neighbors(target)
        if nbrs is None:
            return F.normalize(target.detach(), dim=1)
        feats = nbrs.feats
        if feats.shape[1] == 1:
            pos = feats[:, 0]
        elif self.topk_mode == 'mean':
            pos = F.normalize(feats.mean(dim=1), dim=1)
        else:
            pick = torch.randint(
                feats.shape[1], (feats.shape[0], 1, 1),
                device=feats.device).expand(-1, 1, feats.shape[2])
            pos = feats.gather(1, pick)[:, 0]
        return pos.to(target.dtype)

    def _contrast(self, base_out: torch.Tensor, target_out: torch.Tensor,
                  pos: torch.Tensor) -> torch.Tensor:
        loss = self.loss_module(pos, self.predictor([base_out])[0])
        self.stash_targets(target_out)
        return loss

    def loss(self, base_out: torch.Tensor,
             target_out: torch.Tensor) -> torch.Tensor:
        """One direction of the NNCLR loss.

        Args:
            base_out (Tensor): ``(N, D)`` projections that go through the
                predictor (gradient flows here).
            target_out (Tensor): ``(N, D)`` projections whose nearest
                neighbours are the positives; enqueued after the step.

        Returns:
            Tensor: Scalar loss.
        """
        check_embedding_pair(type(self).__name__, base_out, target_out)
        return self._contrast(base_out, target_out,
                              self.positives(target_out))

    def symmetric_loss(self, z1: torch.Tensor,
                       z2: torch.Tensor) -> torch.Tensor:
        """``(loss(z2, z1) + loss(z1, z2)) / 2`` with one support-set
        lookup for both views (one pass over the queue instead of two).

        Args:
            z1 (Tensor): ``(N, D)`` projections of view 1 (enqueued).
            z2 (Tensor): ``(N, D)`` projections of view 2.

        Returns:
            Tensor: Scalar loss.
        """
        check_embedding_pair(type(self).__name__, z1, z2)
        pos1, pos2 = self.positives(torch.cat([z1, z2])).chunk(2)
        return 0.5 * (self._contrast(z2, z1, pos1) +
                      self._contrast(z1, z2, pos2))
