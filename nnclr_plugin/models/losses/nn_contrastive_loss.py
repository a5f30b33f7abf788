"""InfoNCE between (nearest-neighbour) positives and predictions."""
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import nn

from ...utils.checks import check_positive
from ...utils.dist import gather_with_grad, rank_offset


def nn_contrastive_loss(positives: torch.Tensor,
                        predictions: torch.Tensor,
                        temperature: float = 0.1) -> torch.Tensor:
    """NNCLR's InfoNCE: row ``i`` of ``positives`` must pick prediction ``i``.

    Rows are this rank's positives; the candidates are the predictions of
    the *global* batch (all-gathered with gradient), as in SimCLR. The mean
    over ranks of this loss equals the single-process loss on the
    concatenated batch.

    Args:
        positives (Tensor): ``(N, D)`` positives, e.g. ``NN(z1)``.
        predictions (Tensor): ``(N, D)`` predictions of the other view,
            e.g. ``p2``.
        temperature (float): Softmax temperature. Defaults to 0.1.

    Returns:
        Tensor: Scalar loss.
    """
    if positives.shape != predictions.shape:
        raise ValueError(
            'nn_contrastive_loss: positives and predictions must have the '
            f'same shape, got {tuple(positives.shape)} and '
            f'{tuple(predictions.shape)}')
    # float32 under AMP too: the softmax spans the whole global batch.
    positives = F.normalize(positives.float(), dim=1)
    predictions = gather_with_grad(F.normalize(predictions.float(), dim=1))
    logits = positives @ predictions.T / temperature
    n = positives.shape[0]
    targets = torch.arange(n, device=logits.device) + rank_offset(n)
    return F.cross_entropy(logits, targets)


@MODELS.register_module()
class NNContrastiveLoss(nn.Module):
    """Module form of :func:`nn_contrastive_loss`.

    Args:
        temperature (float): Softmax temperature, > 0. Defaults to 0.1.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self, temperature: float = 0.1, loss_weight: float = 1.0):
        super().__init__()
        check_positive('NNContrastiveLoss', temperature=temperature)
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self, positives: torch.Tensor,
                predictions: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * nn_contrastive_loss(
            positives, predictions, self.temperature)

    def extra_repr(self) -> str:
        return (f'temperature={self.temperature}, '
                f'loss_weight={self.loss_weight}')
