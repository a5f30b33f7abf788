"""Runner checkpoints under torch's ``weights_only`` loader (torch >= 2.4).

The checkpoint's ``message_hub`` holds ``HistoryBuffer`` objects with numpy
arrays and scalars, which the safe loader refuses unless they are
allow-listed; mmengine 0.10 registers none. We allow-list exactly those
types, under the module paths of *both* numpy 1 and numpy 2: a pickle names
the module of the numpy that wrote it (``numpy.core.multiarray`` before 2.0,
``numpy._core.multiarray`` after), so a checkpoint written beside numpy
1.26 must load beside numpy 2 and the other way round.

Needed wherever torch has ``torch.serialization.add_safe_globals`` (2.4;
``weights_only=True`` became the default in 2.6). torch 2.1 has neither:
its ``torch.load`` unpickles everything by default, so nothing is done.
"""
from typing import Callable, List, Tuple, Union

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

NAME = 'checkpoint-safe-globals'
# numpy's module holding the pickle helpers, before and after numpy 2.
NUMPY_MODULES = ('numpy.core.multiarray', 'numpy._core.multiarray')
DTYPES = (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
          np.int64, np.uint8, np.bool_)

SafeGlobal = Union[Callable, Tuple[Callable, str]]


def needed() -> bool:
    """Whether torch has an allow-list for its safe loader."""
    return hasattr(torch.serialization, 'add_safe_globals')


def _accepts_named_globals() -> bool:
    """Whether ``add_safe_globals`` takes ``(object, 'module.name')`` pairs
    (torch >= 2.6); older ones would fail on a pair at load time."""
    from torch import _weights_only_unpickler as unpickler
    probe = (HistoryBuffer, 'nnclr_plugin.compat.probe')
    try:
        torch.serialization.add_safe_globals([probe])
        return 'nnclr_plugin.compat.probe' in \
            unpickler._get_user_allowed_globals()
    except Exception:  # noqa: BLE001 (any failure: no pairs)
        return False
    finally:
        unpickler._marked_safe_globals_set.discard(probe)


def numpy_globals(named: bool = True) -> List[SafeGlobal]:
    """The numpy types a Runner checkpoint pickles.

    Args:
        named (bool): Also list each pickle helper under the other numpy
            major version's module path, as ``(object, name)`` pairs.

    Returns:
        list: Objects (and pairs) for ``add_safe_globals``.
    """
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 1.26 has no numpy._core
        from numpy.core import multiarray
    helpers = (multiarray._reconstruct, multiarray.scalar)
    found: List[SafeGlobal] = [np.ndarray, np.dtype, *helpers]
    found += [type(np.dtype(t)) for t in DTYPES]
    if named:
        found += [(obj, f'{module}.{obj.__name__}') for obj in helpers
                  for module in NUMPY_MODULES]
    return found


def apply() -> None:
    """Allow-list ``HistoryBuffer`` and the numpy types it pickles."""
    torch.serialization.add_safe_globals(
        [HistoryBuffer, *numpy_globals(named=_accepts_named_globals())])
