"""Offline evaluation of frozen representations (weighted kNN)."""
from .features import (
    build_eval_preprocessor,
    extract_backbone_features,
    extract_features,
    iter_batches,
    projections,
)
from .frozen_model import (
    FrozenFeatures,
    build_eval_dataloaders,
    frozen_features,
    load_backbone_checkpoint,
    write_json,
)
from .knn import knn_accuracy, weighted_knn_scores
from .linear_probe import fit_logistic_regression, linear_probe

__all__ = [
    'FrozenFeatures', 'build_eval_dataloaders', 'frozen_features',
    'load_backbone_checkpoint', 'write_json',
    'build_eval_preprocessor', 'extract_backbone_features',
    'extract_features', 'iter_batches', 'projections', 'knn_accuracy',
    'weighted_knn_scores', 'fit_logistic_regression', 'linear_probe'
]
