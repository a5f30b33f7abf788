"""SNCLR's contrastive loss with soft (weighted) neighbour positives."""
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import nn

from ...utils.checks import check_bool, check_positive
from ...utils.dist import gather_no_grad, rank_offset


def soft_neighbor_contrastive_loss(predictions: torch.Tensor,
                                   keys: torch.Tensor,
                                   candidates: torch.Tensor,
                                   weights: torch.Tensor,
                                   temperature: float = 0.2,
                                   scale_by_2t: bool = True) -> torch.Tensor:
    """Soft-label cross-entropy of Eq. 2 of SNCLR (Ge et al., ICLR 2023).

    The classes of each prediction are the momentum keys of the global batch
    *and* every sample's K candidates: ``G * (1 + K)`` columns, with ``G``
    the gathered batch. Row ``i`` has target 1 on its own key and ``w_ik``
    on its own candidates, 0 elsewhere; the other samples' keys and
    candidates are negatives::

        loss_i = -(log p(key_i) + sum_k w_ik log p(cand_ik))

    With ``K == 0`` this is MoCo v3's InfoNCE (mmpretrain's ``MoCoV3Head``
    with ``CrossEntropyLoss(loss_weight=2T)`` when ``scale_by_2t``).

    Args:
        predictions (Tensor): ``(B, D)`` online predictions (gradient).
        keys (Tensor): ``(B, D)`` momentum keys of the other view.
        candidates (Tensor): ``(B, K, D)`` candidate neighbours of the keys.
        weights (Tensor): ``(B, K)`` positiveness of the candidates; the
            gradient flows into them unless the caller detached them.
        temperature (float): Softmax temperature. Defaults to 0.2.
        scale_by_2t (bool): Multiply by ``2 * temperature`` as MoCo v3 and
            the SNCLR release do. Defaults to True.

    Returns:
        Tensor: Scalar loss, mean over this rank's rows.
    """
    b, k = weights.shape
    if keys.shape != predictions.shape or candidates.shape[:2] != (b, k):
        raise ValueError(
            'soft_neighbor_contrastive_loss: shapes do not match: '
            f'predictions {tuple(predictions.shape)}, keys '
            f'{tuple(keys.shape)}, candidates {tuple(candidates.shape)}, '
            f'weights {tuple(weights.shape)}')
    # float32 under AMP too: the softmax spans G * (1 + K) columns.
    pred = F.normalize(predictions.float(), dim=1)
    all_keys = gather_no_grad(F.normalize(keys.float(), dim=1))
    key_logits = pred @ all_keys.T / temperature  # (B, G)
    own = torch.arange(b, device=pred.device) + rank_offset(b)
    if k == 0:
        loss = F.cross_entropy(key_logits, own)
    else:
        all_cands = gather_no_grad(F.normalize(candidates.float(), dim=2))
        cand_logits = torch.einsum('bd,gkd->bgk', pred,
                                   all_cands) / temperature  # (B, G, K)
        log_z = torch.logsumexp(
            torch.cat([key_logits, cand_logits.flatten(1)], dim=1), dim=1)
        rows = torch.arange(b, device=pred.device)
        log_p_key = key_logits[rows, own] - log_z
        log_p_cand = cand_logits[rows, own] - log_z[:, None]  # (B, K)
        loss = -(log_p_key +
                 (weights.float() * log_p_cand).sum(dim=1)).mean()
    return loss * (2 * temperature) if scale_by_2t else loss


@MODELS.register_module()
class SoftNeighborContrastiveLoss(nn.Module):
    """Module form of :func:`soft_neighbor_contrastive_loss`.

    Args:
        temperature (float): Softmax temperature, > 0. Defaults to 0.2.
        scale_by_2t (bool): Multiply by ``2 * temperature``.
            Defaults to True.
        loss_weight (float): Extra multiplier. Defaults to 1.0.
    """

    def __init__(self,
                 temperature: float = 0.2,
                 scale_by_2t: bool = True,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        check_positive('SoftNeighborContrastiveLoss', temperature=temperature)
        check_bool('SoftNeighborContrastiveLoss', scale_by_2t=scale_by_2t)
        self.temperature = temperature
        self.scale_by_2t = scale_by_2t
        self.loss_weight = loss_weight

    def forward(self, predictions: torch.Tensor, keys: torch.Tensor,
                candidates: torch.Tensor,
                weights: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * soft_neighbor_contrastive_loss(
            predictions, keys, candidates, weights, self.temperature,
            self.scale_by_2t)

    def extra_repr(self) -> str:
        return (f'temperature={self.temperature}, '
                f'scale_by_2t={self.scale_by_2t}')
