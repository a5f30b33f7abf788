from .nearest_neighbor_target_head import NearestNeighborTargetHead
from .nnclr_head import NNCLRHead
from .positiveness_cross_attention import PositivenessCrossAttention
from .soft_neighbor_head import SoftNeighborHead

__all__ = ['NearestNeighborTargetHead', 'NNCLRHead',
           'PositivenessCrossAttention', 'SoftNeighborHead']
