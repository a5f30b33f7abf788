from .nn_contrastive_loss import NNContrastiveLoss, nn_contrastive_loss
from .soft_neighbor_contrastive_loss import (
    SoftNeighborContrastiveLoss,
    soft_neighbor_contrastive_loss,
)

__all__ = [
    'NNContrastiveLoss', 'nn_contrastive_loss', 'SoftNeighborContrastiveLoss',
    'soft_neighbor_contrastive_loss'
]
