from .nnclr import NNCLR

__all__ = ['NNCLR']
