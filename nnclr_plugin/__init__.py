"""NNCLR / SNCLR for the OpenMMLab stack; importing registers everything."""
from .version import __version__

__all__ = ['__version__']
