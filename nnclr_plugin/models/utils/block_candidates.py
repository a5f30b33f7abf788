"""Candidates of the reduced-precision lookup: the best rows of each block
of scores, merged across blocks, each with a bound on the rows dropped."""
from typing import Tuple

import torch
from torch import Tensor

from .cosine_topk import TOPK_ROWS, topk_rows


def merge_candidates(vals: Tensor, errs: Tensor, cols: Tensor,
                     bound: Tensor,
                     r: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Keep the ``r`` candidates of each query with the highest reach
    (score + rounding allowance); the reach of the others raises the
    query's bound of dropped rows."""
    if vals.shape[1] <= r:
        return vals, errs, cols, bound
    reach, order = (vals + errs).topk(r + 1, dim=1)
    bound = torch.maximum(bound, reach[:, r])
    order = order[:, :r]
    return (vals.gather(1, order), errs.gather(1, order),
            cols.gather(1, order), bound)


def kth_best(vals: list, k: int) -> Tensor:
    """The k-th largest of each row of the concatenated ``vals``
    (``-inf`` where they hold fewer than k columns)."""
    vals = torch.cat(vals, dim=1)
    if vals.shape[1] < k:
        return vals.new_full(vals.shape[:1], float('-inf'))
    return vals.topk(k, dim=1).values[:, -1]


def block_top(scores: Tensor, n: int,
               work: Tensor) -> Tuple[Tensor, Tensor]:
    """The ``n`` best columns of each row of ``scores`` and, as an
    ``(n + 1)``-th column, a value no other column exceeds.

    A ``topk`` over all the columns would cost 1.5-2x the block's GEMM
    (bfloat16, B = 512, 16,384 rows: 4.1 ms). Columns ``j``, ``j + s``,
    ``j + 2s``, ... form a group whose max is one cheap elementwise pass
    (into ``work``, flat, at least ``scores.numel() / 2``); the best ``n``
    columns lie in the ``n`` best groups (at most ``n`` groups hold a
    column above the ``n``-th best), so only those groups' columns are
    ranked (2.3 ms). The stride ``s`` is at least ``64 (n + 1)``, where
    torch's CPU ``topk`` partial-sorts instead of selecting (2x faster).
    """
    num_q, cols = scores.shape
    groups = 1 << max(0, (cols // (64 * (n + 1))).bit_length() - 1)
    if cols <= n + 1 or groups < 2 or cols % groups:
        return topk_rows(scores, n + 1)
    stride = cols // groups
    group_max = work[:num_q * stride].view(num_q, stride)
    torch.amax(scores.view(num_q, groups, stride), dim=1, out=group_max)
    group_v, group_j = topk_rows(group_max, n + 1)
    offsets = torch.arange(groups, device=scores.device) * stride
    members = (group_j[:, :n, None] + offsets).view(num_q, -1)
    vals, order = scores.gather(1, members).topk(n + 1, dim=1)
    # Dropped: in a group after the n-th best, or ranked after n in one.
    vals[:, n] = torch.maximum(vals[:, n], group_v[:, n])
    return vals, members.gather(1, order)


def block_candidates(scores: Tensor, n: int, work: Tensor, shift: Tensor,
                     start: int,
                     unit: float) -> Tuple[Tensor, Tensor, Tensor]:
    """A block's best ``n`` rows as candidates, and an ``(n + 1)``-th
    column that bounds the block's other rows (:func:`block_top`).

    Args:
        scores (Tensor): ``(B, cols)`` reduced scores less the centre.
        n (int): Candidates per query.
        work (Tensor): :func:`block_top`'s buffer.
        shift (Tensor): ``(B, )`` float32 centre added back.
        start (int): Bank row of the block's first column.
        unit (float): Unit roundoff of the scores' dtype.

    Returns:
        Tuple[Tensor, Tensor, Tensor]: float32 scores (centre added), their
        rounding allowance ``u |t| / (1 - u)`` (and ``2**-23 |score|`` for
        adding the centre back), bank rows.
    """
    vals, cols = block_top(scores, n, work)
    vals, cols = vals.float(), cols + start
    errs = vals.abs() * (unit / (1 - unit))
    vals += shift[:, None]
    errs += vals.abs() * 2**-23
    return vals, errs, cols


def deepen(scores: Tensor, cands: Tuple[Tensor, Tensor, Tensor], rows: Tensor,
           depth: int, work: Tensor, shift: Tensor, start: int,
           unit: float) -> Tuple[Tensor, Tensor, Tensor]:
    """:func:`block_candidates` of a block, widened to ``depth`` candidates
    for the queries ``rows`` (selected again, a few rows at a time) and
    padded with ``-inf`` scores for the others, which keep their own
    bound column. A padded entry never outranks a real candidate, and every
    query has at least ``r`` real ones across the blocks."""
    vals, errs, cols = cands
    num_q, n = vals.shape[0], vals.shape[1] - 1
    wide_v = vals.new_full((num_q, depth + 1), float('-inf'))
    wide_e = errs.new_zeros(num_q, depth + 1)
    wide_c = cols.new_full((num_q, depth + 1), start)
    for wide, old in ((wide_v, vals), (wide_e, errs), (wide_c, cols)):
        wide[:, :n] = old[:, :n]
        wide[:, depth] = old[:, n]
    for part in rows.split(TOPK_ROWS):
        deep = block_candidates(scores[part], depth, work, shift[part], start,
                                unit)
        wide_v[part], wide_e[part], wide_c[part] = deep
    return wide_v, wide_e, wide_c
