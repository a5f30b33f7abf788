"""Linear probe of frozen features: L2-regularised logistic regression.

The transfer protocol of SimCLR (Chen et al., 2020, appendix B.8) and
NNCLR (Dwibedi et al., 2021): a multinomial logistic regression on frozen
features, its L2 penalty chosen on a held-out part of the training set,
then refitted on all of it and scored on the test set. Full-batch L-BFGS on
cached features converges in seconds for tens of thousands of samples, so
no new dependency (scikit-learn) is needed.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

DEFAULT_WEIGHT_DECAYS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def fit_logistic_regression(feats: Tensor,
                            labels: Tensor,
                            num_classes: int,
                            weight_decay: float,
                            max_iter: int = 300,
                            init: Optional[Tuple[Tensor, Tensor]] = None
                            ) -> Tuple[Tensor, Tensor]:
    """Minimise ``mean CE + weight_decay / 2 * ||W||^2`` (bias free).

    Args:
        feats (Tensor): ``(N, D)`` float features (already standardised).
        labels (Tensor): ``(N, )`` class indices.
        num_classes (int): Number of classes.
        weight_decay (float): L2 penalty on the weights, >= 0.
        max_iter (int): L-BFGS iterations. Defaults to 300.
        init (Tuple[Tensor, Tensor], optional): Starting weights and bias
            (a warm start from a nearby penalty); zeros when None.

    Returns:
        Tuple[Tensor, Tensor]: Weights ``(D, C)`` and bias ``(C, )``.
    """
    feats = feats.double()
    if init is None:
        init = (feats.new_zeros(feats.shape[1], num_classes),
                feats.new_zeros(num_classes))
    weight = init[0].clone().double().requires_grad_(True)
    bias = init[1].clone().double().requires_grad_(True)
    optimizer = torch.optim.LBFGS([weight, bias],
                                  lr=1,
                                  max_iter=max_iter,
                                  tolerance_grad=1e-7,
                                  tolerance_change=1e-10,
                                  history_size=20,
                                  line_search_fn='strong_wolfe')

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(feats @ weight + bias, labels)
        loss = loss + 0.5 * weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return weight.detach(), bias.detach()


def _accuracy(feats: Tensor, labels: Tensor, weight: Tensor,
              bias: Tensor) -> float:
    pred = (feats.double() @ weight + bias).argmax(dim=1)
    return (pred == labels).double().mean().item() * 100.0


def linear_probe(train_feats: Tensor,
                 train_labels: Tensor,
                 test_feats: Tensor,
                 test_labels: Tensor,
                 weight_decays: Sequence[float] = DEFAULT_WEIGHT_DECAYS,
                 val_fraction: float = 0.1,
                 num_classes: Optional[int] = None,
                 seed: int = 0,
                 max_iter: int = 300) -> Dict[str, float]:
    """Test top-1 of a logistic regression whose penalty is validated.

    Features are standardised with the training set's mean and standard
    deviation (logistic regression is not scale invariant, and L-BFGS
    converges far faster on standardised inputs). A seeded random
    ``val_fraction`` of the training set is held out to pick the weight
    decay with the best held-out accuracy (ties: the larger penalty); the
    probe is then refitted on the whole training set.

    Args:
        train_feats (Tensor): ``(N, D)`` training features.
        train_labels (Tensor): ``(N, )`` training labels.
        test_feats (Tensor): ``(M, D)`` test features.
        test_labels (Tensor): ``(M, )`` test labels.
        weight_decays (Sequence[float]): Candidate L2 penalties.
        val_fraction (float): Held-out share of the training set, in
            (0, 1). Defaults to 0.1.
        num_classes (int, optional): Defaults to ``max(label) + 1``.
        seed (int): Seed of the held-out split. Defaults to 0.
        max_iter (int): L-BFGS iterations per fit. Defaults to 300.

    Returns:
        dict: ``top1`` (test, percent), ``val_top1`` (held-out accuracy of
        the chosen penalty) and ``weight_decay`` (the chosen penalty).
    """
    if not 0 < val_fraction < 1:
        raise ValueError('linear_probe: val_fraction must be in (0, 1), got '
                         f'val_fraction={val_fraction!r}')
    if len(weight_decays) == 0 or any(wd < 0 for wd in weight_decays):
        raise ValueError('linear_probe: weight_decays must be a non-empty '
                         'list of penalties >= 0, got '
                         f'weight_decays={tuple(weight_decays)!r}')
    if train_feats.shape[0] != train_labels.shape[0] or \
            test_feats.shape[0] != test_labels.shape[0]:
        raise ValueError('linear_probe: features and labels differ in length'
                         f' (train {train_feats.shape[0]} vs '
                         f'{train_labels.shape[0]}, test '
                         f'{test_feats.shape[0]} vs {test_labels.shape[0]})')
    if num_classes is None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    train_labels = train_labels.long()
    test_labels = test_labels.long()
    mean = train_feats.double().mean(dim=0)
    std = train_feats.double().std(dim=0).clamp_min(1e-8)
    train_x = (train_feats.double() - mean) / std
    test_x = (test_feats.double() - mean) / std

    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(train_x.shape[0], generator=gen)
    num_val = max(1, int(round(val_fraction * train_x.shape[0])))
    val_idx, fit_idx = perm[:num_val], perm[num_val:]
    best = None
    params = None
    path_iter = max(1, max_iter // 3)
    # From the strongest penalty down, each fit starting from the last
    # solution (a regularisation path) with a third of the iterations; the
    # chosen penalty is then refitted on all data with the full budget.
    for wd in sorted(weight_decays, reverse=True):
        params = fit_logistic_regression(train_x[fit_idx],
                                         train_labels[fit_idx], num_classes,
                                         wd, path_iter, params)
        acc = _accuracy(train_x[val_idx], train_labels[val_idx], *params)
        if best is None or acc > best[0]:
            best = (acc, wd, params)
    weight, bias = fit_logistic_regression(train_x, train_labels,
                                           num_classes, best[1], max_iter,
                                           best[2])
    return dict(
        top1=_accuracy(test_x, test_labels, weight, bias),
        val_top1=best[0],
        weight_decay=best[1])
