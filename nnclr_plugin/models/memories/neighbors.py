"""What a support-set lookup returns, and how semantic its neighbours are."""
from typing import NamedTuple, Optional

import torch


class Neighbors(NamedTuple):
    """Result of :meth:`SupportSetQueue.nearest`.

    Attributes:
        feats (Tensor): ``(B, k, D)`` neighbour vectors (unit norm).
        indices (Tensor): ``(B, k)`` their rows in the queue.
        sims (Tensor): ``(B, k)`` cosine similarities, descending.
    """
    feats: torch.Tensor
    indices: torch.Tensor
    sims: torch.Tensor


def label_agreement(query_labels: torch.Tensor,
                    neighbor_labels: torch.Tensor,
                    weights: Optional[torch.Tensor] = None) -> Optional[float]:
    """Share of neighbours of the query's class, among known labels.

    A diagnostic of how semantic the neighbours are (NNCLR's "NN accuracy");
    never used by a loss. With ``weights`` (SNCLR's positiveness) it is the
    share of the weight that falls on neighbours of the query's class: above
    the unweighted share when the weights favour true positives.

    Args:
        query_labels (Tensor): ``(B, )``; -1 marks an unknown label.
        neighbor_labels (Tensor): ``(B, k)``; -1 marks an unknown label.
        weights (Tensor, optional): ``(B, k)`` non-negative weights.

    Returns:
        float | None: The share, or None when no pair has both labels.
    """
    query_labels = query_labels.to(neighbor_labels.device).view(-1, 1)
    known = (neighbor_labels >= 0) & (query_labels >= 0)
    if not bool(known.any()):
        return None
    same = neighbor_labels == query_labels
    if weights is None:
        return float(same[known].float().mean())
    weights = weights.to(neighbor_labels.device).float() * known
    total = weights.sum()
    return float((weights * same).sum() / total) if total > 0 else None
