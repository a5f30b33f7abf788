from .nn_contrastive_loss import NNContrastiveLoss, nn_contrastive_loss

__all__ = ['NNContrastiveLoss', 'nn_contrastive_loss']
