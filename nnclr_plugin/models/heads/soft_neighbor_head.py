"""SNCLR head: soft neighbours weighted by a positiveness cross-attention."""
import math
from typing import Optional

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ...utils.checks import check_bool
from ..memories import Neighbors, label_agreement
from .support_set_head import SupportSetMixin, check_embedding_pair


@MODELS.register_module()
class SoftNeighborHead(SupportSetMixin, BaseModule):
    """Head of SNCLR (Ge et al., ICLR 2023), a drop-in for ``MoCoV3Head``.

    ``loss(base_out, momentum_out)`` has ``MoCoV3Head``'s signature, so a
    stock ``type='MoCoV3'`` config trains SNCLR by swapping its head. For
    each sample the K memory entries most similar to its momentum key are
    the candidate neighbours; :class:`PositivenessCrossAttention` weighs
    them with the online projection ``base_out`` (before the predictor) as
    query; :class:`SoftNeighborContrastiveLoss` counts them as positives
    with those weights next to the key. The keys of the first call per
    step (MoCo v3's ``k2``, as in the authors' release) are enqueued by
    :class:`SupportSetQueueHook` after the step.

    With ``k=0``, an empty memory, or during the hook's warm-up, no
    candidates are used and the loss is MoCo v3's.

    Args:
        predictor (dict): Config of the prediction MLP.
        queue (dict): Config of the :class:`SupportSetQueue` of momentum
            projections (release: 128,000 rows).
        positiveness (dict): Config of the module giving ``(B, K)`` weights
            from ``(query (B, D), candidates (B, K, D))``. Defaults to the
            parameter-free :class:`PositivenessCrossAttention`; its
            ``embed_dims`` defaults to the queue's ``feat_dim``.
        loss (dict): Config of the loss taking ``(predictions, keys,
            candidates, weights)``. Defaults to
            :class:`SoftNeighborContrastiveLoss` with temperature 0.2.
        k (int): Candidates per sample (release and paper: 30). 0 disables
            soft neighbours. Defaults to 30.
        detach_weights (bool): Stop the gradient into the positiveness
            weights. The release does not, so the attention query (the
            online projection) is also trained by them. Defaults to False.
        enqueue (str): ``'first'``: enqueue the keys of the first ``loss``
            call per step; ``'all'``: of every call. Defaults to ``'first'``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 predictor: dict,
                 queue: dict,
                 positiveness: dict = dict(type='PositivenessCrossAttention'),
                 loss: dict = dict(
                     type='SoftNeighborContrastiveLoss', temperature=0.2),
                 k: int = 30,
                 detach_weights: bool = False,
                 enqueue: str = 'first',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.predictor = MODELS.build(predictor)
        self.build_support_set(queue, k, enqueue, k_min=0)
        positiveness = dict(positiveness)
        if positiveness.get('type') == 'PositivenessCrossAttention':
            positiveness.setdefault('embed_dims', self.queue.feat_dim)
        self.positiveness = MODELS.build(positiveness)
        self.loss_module = MODELS.build(loss)
        check_bool('SoftNeighborHead', detach_weights=detach_weights)
        self.detach_weights = detach_weights

    def record_label_agreement(self, weights: torch.Tensor,
                               nbrs: Neighbors) -> None:
        """Record how many candidates share the query's class, counted
        (``candidate_label_agreement``) and weighted by positiveness
        (``weighted_label_agreement``): the weights only help when the
        second is above the first. Needs labels from the hook."""
        labels = self.queue.labels_of(nbrs)
        if labels is None:
            return
        for name, w in (('candidate', None), ('weighted', weights)):
            share = label_agreement(*labels, weights=w)
            if share is not None:
                self.queue.record(f'{name}_label_agreement', share)

    def record_peakedness(self, weights: torch.Tensor) -> None:
        """Record how far the ``(B, K)`` weights are from uniform ``1/K``.

        ``positiveness_max`` is the mean largest weight (``1/K`` when flat,
        1 when one candidate takes all); ``positiveness_entropy`` the mean
        entropy divided by ``log K`` (1 when flat, 0 when one-hot).
        """
        self.queue.record('positiveness_max',
                               weights.max(dim=1).values.mean())
        k = weights.shape[1]
        if k > 1:
            entropy = -(weights * weights.clamp_min(1e-12).log()).sum(dim=1)
            self.queue.record('positiveness_entropy',
                                   entropy.mean() / math.log(k))

    def loss(self, base_out: torch.Tensor,
             momentum_out: torch.Tensor) -> torch.Tensor:
        """One direction of the SNCLR loss.

        Args:
            base_out (Tensor): ``(B, D)`` online projections (query of the
                cross-attention; input of the predictor).
            momentum_out (Tensor): ``(B, D)`` momentum projections of the
                other view (keys; their neighbours are the candidates).

        Returns:
            Tensor: Scalar loss.
        """
        check_embedding_pair(type(self).__name__, base_out, momentum_out)
        pred = self.predictor([base_out])[0]
        # Candidates: (B, K', D) unit-norm momentum projections, no
        # gradient; K' = min(k, filled rows), 0 when soft neighbours are off
        # (k=0, empty memory, warm-up).
        nbrs = self.neighbors(momentum_out)
        cands = momentum_out.new_zeros(momentum_out.shape[0], 0,
                                       momentum_out.shape[1]) \
            if nbrs is None else nbrs.feats.to(momentum_out.dtype)
        weights = self.positiveness(base_out, cands)
        if self.detach_weights:
            weights = weights.detach()
        if weights.numel():
            self.record_peakedness(weights.detach())
            self.record_label_agreement(weights.detach(), nbrs)
        loss = self.loss_module(pred, momentum_out, cands, weights)
        self.stash_targets(momentum_out)
        return loss
