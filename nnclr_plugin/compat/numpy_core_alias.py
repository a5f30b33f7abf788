"""Checkpoints written beside numpy 2 load beside numpy < 1.26.

A pickle names the module of the numpy that wrote it: numpy 2 writes its
arrays and scalars as ``numpy._core.multiarray._reconstruct`` and
``numpy._core.multiarray.scalar``. numpy 1.26 ships ``numpy._core`` as an
alias of ``numpy.core`` so that such files load; numpy 1.24 and 1.25 (the
last releases for Python 3.8) do not, and the Runner checkpoint's
``message_hub`` fails with ``No module named 'numpy._core'``. The same
alias is registered here, for the submodules of ``numpy.core`` that are
loaded (the ones a pickle can name): the objects are numpy 1's own.

Needed where numpy ships no ``numpy._core`` of its own (numpy < 1.26).
"""
import importlib.util
import sys

import numpy

NAME = 'numpy-core-alias'


def needed() -> bool:
    """Whether this numpy ships no ``numpy._core`` package of its own
    (once applied, the alias is found, under ``numpy.core``'s name)."""
    spec = importlib.util.find_spec('numpy._core')
    return spec is None or spec.name != 'numpy._core'


def apply() -> None:
    """Make ``numpy._core[.X]`` the loaded ``numpy.core[.X]`` modules."""
    prefix = 'numpy.core'
    for name, module in list(sys.modules.items()):
        if name == prefix or name.startswith(prefix + '.'):
            sys.modules['numpy._core' + name[len(prefix):]] = module
    numpy._core = numpy.core
