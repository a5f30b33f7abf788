"""Exact top-k inner-product search over a large bank, in bounded memory."""
from typing import Optional, Tuple

import torch
from torch import Tensor

TOPK_ROWS = 1024  # query rows per top-k call in the blocked k > 1 path


def topk_inner_product(query: Tensor,
                       bank: Tensor,
                       k: int,
                       block_size: Optional[int] = None
                       ) -> Tuple[Tensor, Tensor]:
    """The ``k`` rows of ``bank`` with the largest inner product per query.

    With ``block_size`` the bank is scored ``block_size`` rows at a time
    into one reused ``(B, block_size)`` buffer, so the ``B x N`` score
    matrix is never built: at NNCLR's paper sizes (B = 4,096, N = 98,304)
    that matrix is 1.5 GiB, a block of 8,192 rows 128 MiB. The result is
    the same for any ``block_size`` up to float rounding (a GEMM's rounding
    depends on its shape: scores within ~1e-7 of each other may swap), and
    equal scores are ranked by row index, the lower first (``torch.topk``
    leaves their order, and which of them a cut at ``k`` keeps, undefined),
    so that a run does not depend on how the scores were found.

    Two choices keep the blocked path as fast as one big matrix: for
    ``k == 1`` a running ``max`` (one pass over the scores, no sort) and
    for ``k > 1`` one ``topk`` per block merged into a running ``B x k``
    best list (a merge costs ``B x 2k``, nothing next to a block).

    Args:
        query (Tensor): ``(B, D)``.
        bank (Tensor): ``(N, D)``, same dtype and device as ``query``.
        k (int): Rows per query, ``1 <= k <= N``.
        block_size (int, optional): Bank rows scored at once; None scores
            all ``N`` at once. Defaults to None.

    Returns:
        Tuple[Tensor, Tensor]: ``(B, k)`` scores, descending, and their
        ``(B, k)`` row indices in ``bank``.
    """
    num = bank.shape[0]
    if not 1 <= k <= num:
        raise ValueError(f'topk_inner_product: k must be in [1, {num}] '
                         f'(the bank size), got {k}')
    block = num if block_size is None else min(block_size, num)
    if block == num:
        scores = query @ bank.T
        if k == 1:
            # max returns the first of equal maxima.
            best, idx = scores.max(dim=1, keepdim=True)
            return best, idx
        return topk_ties_to_lower(scores, k)

    buffer = query.new_empty(query.shape[0] * block)
    best = best_idx = None
    for start in range(0, num, block):
        rows = bank[start:start + block]
        scores = buffer[:query.shape[0] * rows.shape[0]].view(
            query.shape[0], rows.shape[0])
        torch.mm(query, rows.T, out=scores)
        if k == 1:
            vals, idx = scores.max(dim=1, keepdim=True)
            idx += start
            if best is None:
                best, best_idx = vals, idx
            else:
                # Strictly greater: an earlier row keeps a tie, as in a
                # full-matrix max.
                better = vals > best
                best = torch.where(better, vals, best)
                best_idx = torch.where(better, idx, best_idx)
        else:
            # Each block's and each merge's k best as a set; ranked once,
            # at the end.
            vals, idx = topk_ties_to_lower(scores, k, rank=False)
            idx += start
            if best is not None:
                # A running merge keeps only B x k candidates alive.
                vals, idx = merge_ties_to_lower(
                    torch.cat([best, vals], dim=1),
                    torch.cat([best_idx, idx], dim=1), k)
            best, best_idx = vals, idx
    if k == 1:
        return best, best_idx
    return rank_ties_to_lower(best, best_idx, k)


def rank_ties_to_lower(vals: Tensor, idx: Tensor,
                       k: int) -> Tuple[Tensor, Tensor]:
    """The ``k`` best of each row's candidates (``vals`` at row indices
    ``idx``), descending, equal scores by the lower index."""
    idx, order = idx.sort(dim=1)
    vals, order = vals.gather(1, order).sort(dim=1, descending=True,
                                             stable=True)
    return vals[:, :k].contiguous(), idx.gather(1, order[:, :k])


def merge_ties_to_lower(vals: Tensor, idx: Tensor,
                        k: int) -> Tuple[Tensor, Tensor]:
    """The ``k`` best candidates of each row as a set (unranked), equal
    scores at the cut kept by the lower index: a ``topk``, and the rare
    rows with a tie at the cut ranked in full."""
    if vals.shape[1] <= k:
        return vals, idx
    top, order = vals.topk(k + 1, dim=1)
    best, best_idx = top[:, :k], idx.gather(1, order[:, :k])
    tied = (top[:, k] == top[:, k - 1]).nonzero()[:, 0]
    if len(tied):
        best[tied], best_idx[tied] = rank_ties_to_lower(vals[tied],
                                                        idx[tied], k)
    return best, best_idx


def topk_ties_to_lower(scores: Tensor, k: int,
                       rank: bool = True) -> Tuple[Tensor, Tensor]:
    """:func:`topk_rows` of ``scores`` with equal scores ranked by the
    lower column, at the cut as well: where the ``(k+1)``-th score equals
    the k-th (rare: an exact float tie), the row is ranked again among
    all its columns that reach the k-th score. ``rank=False`` returns the
    same k columns unranked."""
    vals, idx = topk_rows(scores, k + 1)
    k = min(k, scores.shape[1])
    if vals.shape[1] > k:
        for row in (vals[:, k] == vals[:, k - 1]).nonzero()[:, 0].tolist():
            cols = (scores[row] >= vals[row, k - 1]).nonzero()[:, 0]
            order = scores[row, cols].sort(descending=True,
                                           stable=True).indices[:k]
            vals[row, :k] = scores[row, cols[order]]
            idx[row, :k] = cols[order]
    if not rank:
        return vals[:, :k], idx[:, :k]
    return rank_ties_to_lower(vals[:, :k], idx[:, :k], k)


def topk_rows(scores: Tensor, n: int) -> Tuple[Tensor, Tensor]:
    """``topk`` (``n``, at most all columns) of each row of ``scores``, a
    few rows at a time: topk copies what it sorts, and the copies stay
    small next to the block of scores."""
    top = [part.topk(min(n, scores.shape[1]), dim=1)
           for part in scores.split(TOPK_ROWS)]
    return torch.cat([v for v, _ in top]), torch.cat([i for _, i in top])


def auto_block_size(query: torch.Tensor, k: int = 1,
                    score_bytes: int = 16 * 2**20) -> int:
    """Queue rows per lookup block for ``block_size='auto'``.

    About ``score_bytes`` of scores per block, so that the max / top-k pass
    reads them from cache, but at least 4,096 rows (8,192 for ``k > 1``,
    whose per-block top-k has a fixed cost: at B = 4,096 and k = 30, blocks
    of 4,096 rows measured slower *and* with a higher peak than 8,192).
    Measured on CPU with ``tools/benchmarks/support_set_lookup.py``:
    0.7-0.9x the time of one full score matrix at 98,304 rows.

    Args:
        query (Tensor): ``(B, D)`` queries of the lookup.
        k (int): Neighbours per query.
        score_bytes (int): Target size of one block of scores.

    Returns:
        int: Rows per block.
    """
    per_row = max(1, query.shape[0] * query.element_size())
    return max(4096 if k == 1 else 8192, score_bytes // per_row)
