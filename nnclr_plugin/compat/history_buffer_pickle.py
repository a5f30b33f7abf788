"""Runner checkpoints that torch's ``weights_only`` loader can read.

mmengine's ``HistoryBuffer.__getstate__`` adds the class-level statistics
functions (``HistoryBuffer.mean`` ...) to every pickled buffer of the
checkpoint's ``message_hub``. Pickle stores such nested functions through
``getattr``, which ``torch.load(weights_only=True)`` (the default from torch
2.6) refuses, and which no allow-list can admit safely (it would let a
crafted file reach any object). The buffers are pickled without them; the
class already holds those functions wherever the file is loaded.

This is a *writer-side* fix: it is needed on every torch, the oldest too,
because a checkpoint written under torch 2.1 must still resume where torch
>= 2.6 reads it. :func:`needed` asks the stock ``__getstate__`` whether it
still adds the functions.
"""
from mmengine.logging.history_buffer import HistoryBuffer

NAME = 'history-buffer-pickle'
STOCK = HistoryBuffer.__getstate__


def needed() -> bool:
    """Whether the stock state holds the class-level functions."""
    return 'statistics_methods' in STOCK(HistoryBuffer())


def getstate(self: HistoryBuffer) -> dict:
    """State of a ``HistoryBuffer`` without its class-level functions."""
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    return state


def apply() -> None:
    """Pickle ``HistoryBuffer`` with :func:`getstate`."""
    HistoryBuffer.__getstate__ = getstate
