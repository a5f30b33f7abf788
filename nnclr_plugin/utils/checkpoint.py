"""Let mmengine checkpoints load under torch's ``weights_only=True`` default.

Since torch 2.6 ``torch.load`` only unpickles allow-listed globals. An
mmengine Runner checkpoint also stores its ``message_hub``: ``HistoryBuffer``
objects holding numpy arrays and scalars, and resume fails with
``UnpicklingError: Unsupported global``. Instead of disabling the safe loader
we allow-list exactly the data types a Runner writes into its checkpoints.

One thing cannot be allow-listed safely: stock ``HistoryBuffer.__getstate__``
pickles its statistics *functions* (``getattr(HistoryBuffer, 'min')``), and
allowing ``getattr`` would let a crafted checkpoint reach arbitrary objects.
Those functions are class-level registrations that every process recreates
on import, so we pickle the buffer without them; mmengine's own
``__setstate__`` already treats them as optional.
"""
from typing import List

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer


def _numpy_globals() -> List[object]:
    """Numpy types pickled inside ``HistoryBuffer`` and ``message_hub``."""
    # numpy >= 1.25 moved the reconstruct helpers into ``numpy._core``; the
    # pickle refers to whichever module the writing numpy used.
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(t)) for t in (
        np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
        np.int64, np.uint8, np.bool_)]
    return [np.ndarray, np.dtype, _reconstruct, scalar, *dtype_classes]


def _history_buffer_getstate(self: HistoryBuffer) -> dict:
    """State of a ``HistoryBuffer`` without its class-level functions."""
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    return state


def register_checkpoint_safe_globals() -> None:
    """Make Runner checkpoints loadable with ``weights_only=True``.

    Idempotent; called when :mod:`nnclr_plugin` is imported.
    """
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    torch.serialization.add_safe_globals([HistoryBuffer, *_numpy_globals()])
