"""Offline evaluation of frozen representations (weighted kNN)."""
from .features import extract_backbone_features
from .knn import knn_accuracy, weighted_knn_scores

__all__ = ['extract_backbone_features', 'knn_accuracy', 'weighted_knn_scores']
