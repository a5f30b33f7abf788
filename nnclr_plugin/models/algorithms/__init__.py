from .nnclr import NNCLR
from .snclr import SNCLR

__all__ = ['NNCLR', 'SNCLR']
