"""Weighted k-nearest-neighbour classification of frozen features.

The protocol of Wu et al., "Unsupervised Feature Learning via Non-Parametric
Instance Discrimination" (CVPR 2018), as used by solo-learn and most SSL
papers: features are L2-normalised, the ``k`` training samples with the
highest cosine similarity to a query vote for their own class with weight
``exp(similarity / temperature)``, and the class with the largest summed
vote is the prediction. It needs no training, so it is a cheap, label-aware
probe of how well a representation clusters the classes.
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils.checks import check_int, check_positive


def _check_2d(name: str, feats: Tensor) -> None:
    if not isinstance(feats, Tensor):
        raise ValueError(f'{name} must be a 2-D tensor (num_samples, '
                         f'feat_dim), got {name} of type '
                         f'{type(feats).__name__}')
    if feats.dim() != 2:
        raise ValueError(f'{name} must be a 2-D tensor (num_samples, '
                         f'feat_dim), got {name} with shape '
                         f'{tuple(feats.shape)}')


def _check_labels(name: str, labels: Tensor, num_samples: int,
                  feats_name: str) -> None:
    if not isinstance(labels, Tensor) or labels.dim() != 1:
        shape = tuple(labels.shape) if isinstance(labels, Tensor) else None
        raise ValueError(
            f'{name} must be a 1-D tensor of class indices, got {name} with '
            f'shape {shape}')
    if labels.numel() != num_samples:
        raise ValueError(
            f'{name} has {labels.numel()} entries but {feats_name} has '
            f'{num_samples} rows; they must match')
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(
            f'{name} must hold integer class indices, got dtype '
            f'{labels.dtype}')
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError(
            f'{name} holds negative labels (-1: an image without gt_label); '
            'kNN evaluation needs a labelled dataset')


def weighted_knn_scores(train_feats: Tensor,
                        train_labels: Tensor,
                        test_feats: Tensor,
                        num_classes: int,
                        k: int = 200,
                        temperature: float = 0.07,
                        chunk_size: int = 1024) -> Tensor:
    """Class votes of a temperature-weighted kNN classifier.

    Both feature sets are L2-normalised here, so the dot product is the
    cosine similarity whatever the caller passes. Queries are processed
    ``chunk_size`` at a time: a full ``num_test x num_train`` similarity
    matrix (10k x 60k floats = 2.4 GB for Fashion-MNIST) is never built.

    Args:
        train_feats (Tensor): Memory-bank features, shape ``(N, D)``.
        train_labels (Tensor): Integer labels of ``train_feats``, shape
            ``(N, )``, each in ``[0, num_classes)``.
        test_feats (Tensor): Query features, shape ``(M, D)``.
        num_classes (int): Number of classes, the width of the output.
        k (int): Number of neighbours. Clipped to ``N`` so that a small
            memory bank still works. Defaults to 200.
        temperature (float): Softmax-like temperature ``T`` of the vote
            weights ``exp(sim / T)``. Defaults to 0.07.
        chunk_size (int): Number of queries per similarity block; trades
            peak memory (``chunk_size x N`` floats) for speed.
            Defaults to 1024.

    Returns:
        Tensor: Summed votes of shape ``(M, num_classes)`` (float32, on the
        device of ``train_feats``); ``argmax(dim=1)`` is the prediction.
    """
    _check_2d('train_feats', train_feats)
    _check_2d('test_feats', test_feats)
    _check_labels('train_labels', train_labels, train_feats.size(0),
                  'train_feats')
    if train_feats.size(0) == 0:
        raise ValueError('train_feats is empty (0 rows); the kNN memory bank '
                         'needs at least one sample')
    if test_feats.size(1) != train_feats.size(1):
        raise ValueError(
            f'test_feats has feature dim {test_feats.size(1)} but '
            f'train_feats has {train_feats.size(1)}; they must match')
    check_int('knn_scores', num_classes=num_classes, k=k,
              chunk_size=chunk_size)
    check_positive('knn_scores', temperature=temperature)
    if int(train_labels.min()) < 0 or int(train_labels.max()) >= num_classes:
        raise ValueError(
            f'train_labels must lie in [0, num_classes={num_classes}), got '
            f'values in [{int(train_labels.min())}, '
            f'{int(train_labels.max())}]')

    device = train_feats.device
    # float32 even for half-precision features: exp(1 / 0.07) ~ 1.6e6
    # overflows fp16.
    bank = F.normalize(train_feats.float(), dim=1)
    bank_labels = train_labels.to(device=device, dtype=torch.long)
    k = min(k, bank.size(0))

    scores = []
    for start in range(0, test_feats.size(0), chunk_size):
        queries = test_feats[start:start + chunk_size].to(device).float()
        queries = F.normalize(queries, dim=1)
        sim = queries @ bank.t()
        top_sim, top_idx = sim.topk(k, dim=1)
        weights = (top_sim / temperature).exp()
        votes = torch.zeros(
            queries.size(0), num_classes, device=device, dtype=torch.float32)
        # Several neighbours of one class add up in the same cell.
        votes.scatter_add_(1, bank_labels[top_idx], weights)
        scores.append(votes)
    if not scores:
        return torch.zeros(0, num_classes, device=device)
    return torch.cat(scores)


def knn_accuracy(train_feats: Tensor,
                 train_labels: Tensor,
                 test_feats: Tensor,
                 test_labels: Tensor,
                 num_classes: Optional[int] = None,
                 k: int = 200,
                 temperature: float = 0.07,
                 topk: Sequence[int] = (1, 5),
                 chunk_size: int = 1024) -> Dict[str, float]:
    """Top-k accuracy of the weighted kNN classifier.

    Args:
        train_feats (Tensor): Memory-bank features, shape ``(N, D)``.
        train_labels (Tensor): Integer labels of ``train_feats``, ``(N, )``.
        test_feats (Tensor): Query features, shape ``(M, D)``, ``M >= 1``.
        test_labels (Tensor): Integer labels of ``test_feats``, ``(M, )``.
        num_classes (int, optional): Number of classes. When None it is
            ``max(label) + 1`` over both label sets. Defaults to None.
        k (int): Number of neighbours, clipped to ``N``. Defaults to 200.
        temperature (float): Vote temperature. Defaults to 0.07.
        topk (Sequence[int]): The ``k`` of each top-k accuracy. A value
            above ``num_classes`` is clipped to it (and so gives 100); its
            key keeps the requested value, so ``top5`` is always present
            for the default. Defaults to (1, 5).
        chunk_size (int): Queries per similarity block. Defaults to 1024.

    Returns:
        dict: ``{'top1': float, 'top5': float, ...}``, accuracies in percent.
    """
    # num_classes is inferred from the labels below, so they are checked
    # here before weighted_knn_scores gets to them.
    _check_2d('train_feats', train_feats)
    _check_2d('test_feats', test_feats)
    _check_labels('train_labels', train_labels, train_feats.size(0),
                  'train_feats')
    _check_labels('test_labels', test_labels, test_feats.size(0),
                  'test_feats')
    if train_feats.size(0) == 0:
        raise ValueError('train_feats is empty (0 rows); the kNN memory bank '
                         'needs at least one sample')
    if test_feats.size(0) == 0:
        raise ValueError('test_feats is empty (0 rows); accuracy is '
                         'undefined without queries')
    if isinstance(topk, int):
        topk = (topk, )
    if len(topk) == 0 or any(
            isinstance(t, bool) or not isinstance(t, int) or t < 1
            for t in topk):
        raise ValueError(
            f'topk must be a non-empty sequence of ints >= 1, got '
            f'topk={tuple(topk)!r}')
    if num_classes is None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    if int(test_labels.min()) < 0 or int(test_labels.max()) >= num_classes:
        raise ValueError(
            f'test_labels must lie in [0, num_classes={num_classes}), got '
            f'values in [{int(test_labels.min())}, '
            f'{int(test_labels.max())}]')

    scores = weighted_knn_scores(
        train_feats,
        train_labels,
        test_feats,
        num_classes=num_classes,
        k=k,
        temperature=temperature,
        chunk_size=chunk_size)
    maxk = min(max(topk), num_classes)
    pred = scores.topk(maxk, dim=1).indices
    hits = pred == test_labels.to(pred.device).long().unsqueeze(1)
    results = {}
    for t in topk:
        num_correct = hits[:, :min(t, num_classes)].any(dim=1).sum().item()
        # In Python floats, so 2 of 3 reads 66.666..., not 66.66666388.
        results[f'top{t}'] = num_correct * 100.0 / hits.size(0)
    return results
