"""The bank rows as the reduced-precision lookup scores them, kept in step.

:func:`~.fast_precision.topk_reduced_precision` scores extended rows
``[x~, beta_x, 1, 0...]`` (``x~``: the row rounded to bfloat16 / float16,
``beta_x = x.(x~ - x)``) and bounds its error with ``|x|`` and
``|x~ - x|``. Making them costs a few passes over the whole float32 bank;
at a training batch (B = 512, 98,304 rows) that was a sixth of the lookup.
A support set changes by one batch of rows per step, so
:class:`RoundedBank` keeps them and re-rounds only the rows written.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

# Columns added to the vectors (beta, the centre's 1, zeros to a multiple
# of 16: the GEMM kernels' step).
EXTRA = 16
# Rows rounded at once: bounds the float32 temporaries of a rebuild.
CHUNK = 4096


def round_rows(rows: Tensor, dtype: torch.dtype,
               out: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
    """Extended rounded rows and their norms, as the lookup scores them.

    Args:
        rows (Tensor): ``(n, D)`` float32.
        dtype (torch.dtype): The reduced precision.
        out (Tensor, optional): ``(n, D + EXTRA)`` buffer of ``dtype`` to
            write the extended rows into.

    Returns:
        Tuple[Tensor, Tensor, Tensor]: ``(n, D + EXTRA)`` rows
        ``[x~, beta_x, 1, 0...]`` in ``dtype``, ``|x|`` and ``|x~ - x|``
        (float32, ``(n,)`` each).
    """
    num, dim = rows.shape
    ext = rows.new_empty(num, dim + EXTRA, dtype=dtype) if out is None \
        else out
    norm, err = rows.new_empty(num), rows.new_empty(num)
    for s in range(0, num, CHUNK):
        part, dest = rows[s:s + CHUNK], ext[s:s + CHUNK]
        dest[:, dim:] = 0
        dest[:, dim + 1] = 1
        dest[:, :dim] = part  # rounds to dtype
        diff = dest[:, :dim].float().sub_(part)
        torch.linalg.vector_norm(part, dim=1, out=norm[s:s + CHUNK])
        torch.linalg.vector_norm(diff, dim=1, out=err[s:s + CHUNK])
        dest[:, dim] = diff.mul_(part).sum(dim=1)  # beta = x . (x~ - x)
    return ext, norm, err


class RoundedBank:
    """:func:`round_rows` of a whole bank buffer, kept in step with it.

    The owner calls :meth:`write` after writing rows of the buffer in
    place; any other change to it (a checkpoint load, a DDP buffer
    broadcast, a move to another device, a write by other code) shows in
    the tensor's version counter or storage, and the next :meth:`get`
    rounds the whole buffer again. So the rounded rows are never stale,
    which the lookup's error bound relies on: a stale row outside the
    candidates would not be seen by its consistency check.
    """

    def __init__(self) -> None:
        self._key: Optional[tuple] = None
        self._rows: Optional[Tuple[Tensor, Tensor, Tensor]] = None

    @staticmethod
    def _key_of(bank: Tensor, dtype: torch.dtype) -> tuple:
        try:
            version = bank._version
        except RuntimeError:
            # An inference-mode tensor has no version counter: a key that
            # matches nothing, so its rows are rounded at every lookup.
            version = object()
        return (bank.data_ptr(), bank.device, tuple(bank.shape), version,
                dtype)

    def get(self, bank: Tensor,
            dtype: torch.dtype) -> Tuple[Tensor, Tensor, Tensor]:
        """:func:`round_rows` of ``bank`` (the whole buffer), rebuilt only
        if ``bank`` changed other than through :meth:`write`."""
        key = self._key_of(bank, dtype)
        if key != self._key:
            self._rows = None  # free the old rows before the new ones
            self._rows = round_rows(bank, dtype)
            self._key = key
        return self._rows

    def is_current(self, bank: Tensor) -> bool:
        """Whether the kept rows match ``bank`` as it is now (call before
        writing to it, to pass to :meth:`write`)."""
        return self._key is not None and \
            self._key == self._key_of(bank, self._key[-1])

    def write(self, bank: Tensor, rows: Tensor, was_current: bool) -> None:
        """Re-round ``bank[rows]`` after they were written.

        Args:
            bank (Tensor): The buffer, after the write.
            rows (Tensor): Indices of the written rows.
            was_current (bool): :meth:`is_current` before the write; if
                False the kept rows are stale anyway and left to
                :meth:`get` to rebuild.
        """
        if not was_current:
            return
        dtype = self._key[-1]
        ext, norm, err = self._rows
        new_ext, new_norm, new_err = round_rows(bank[rows], dtype)
        ext[rows], norm[rows], err[rows] = new_ext, new_norm, new_err
        self._key = self._key_of(bank, dtype)
