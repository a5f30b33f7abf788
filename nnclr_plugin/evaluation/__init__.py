"""Offline evaluation of frozen representations (weighted kNN)."""
from .features import build_eval_preprocessor, extract_backbone_features
from .frozen_model import build_eval_dataloaders, load_backbone_checkpoint
from .knn import knn_accuracy, weighted_knn_scores
from .linear_probe import fit_logistic_regression, linear_probe

__all__ = [
    'build_eval_dataloaders', 'load_backbone_checkpoint',
    'build_eval_preprocessor', 'extract_backbone_features', 'knn_accuracy',
    'weighted_knn_scores', 'fit_logistic_regression', 'linear_probe'
]
