from .nnclr_head import NNCLRHead
from .soft_neighbor_head import SoftNeighborHead

__all__ = ['NNCLRHead', 'SoftNeighborHead']
