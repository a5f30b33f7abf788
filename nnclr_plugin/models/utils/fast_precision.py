"""Support-set lookup at the hardware's fast precision, exact by construction.

The lookup's cost is the ``B x N x d`` score product. In bfloat16 (or
float16) it runs several times faster where the hardware has the units
(AVX512-BF16 / AMX on CPUs, tensor cores on GPUs), but bfloat16 keeps 8
significant bits: near a score of 1 its spacing is ``2**-8 = 3.9e-3``, wider
than the gaps between the neighbours of trained projections (top scores of
0.98-0.998, hundreds of rows within 1e-2). Ranked in plain bfloat16, then
re-ranked in float32 among its top 16, the NNCLR demo's projections lose
their float32 nearest neighbour for 11 % of queries (top 8: 19 %).
:func:`topk_reduced_precision` therefore only *pre-selects* in reduced
precision, on scores made fine enough to separate such rows, and decides
in float32:

1. score every bank row in ``dtype`` (blocked, as the float32 path) as
   ``t = q~.x~ - beta_x - c`` and keep the ``r`` best rows per query as
   candidates, plus ``U``: the largest reduced score of any dropped row.
   ``q~``, ``x~`` are the rounded vectors; ``beta_x = x.(x~ - x)``, the
   part of the row's own rounding error along itself, is folded in as one
   more column; ``c``, about the query's best score (from a sample of
   rows, then the best score of the blocks so far), is subtracted inside
   the float32 accumulation, so that the scores that matter are small
   numbers and lose little to the rounding of the output to ``dtype``;
2. re-score the ``r`` candidates in float32, by a GEMM as the float32
   path's (the same bits with MKL), and take the top ``k``, ties to the
   lower row index (the float32 path's rule);
3. certify each query: no dropped row can reach the k-th float32 score
   ``L`` if ``U + c - alpha + E < L`` (``alpha = q.(q~ - q)``, ``E`` the
   bound derived in :mod:`.score_bound`); queries that fail (near-ties
   wider than ``r`` rows) are looked up again in float32. Every query gets
   the float32 answer.

On the NNCLR demo's trained projections (150 iterations, d = 128, scores
~0.99, 28,672 rows, 4,096 queries) ``E`` is about 5e-4 and every query was
certified (r = 16 for k = 1, 61 for k = 30); the plain Cauchy-Schwarz
bound without the centre and ``beta`` (about 1e-2) certified a quarter of
them. Where rows crowd closer still (an untrained network on noise images,
SNCLR's k = 30: the top 30 within 2e-3 of each other) most queries go back
to float32, and :class:`~.score_dtype.AutoPause` then keeps ``'auto'`` in
float32 for a while. As a guard against a backend that rounds more than
modelled (e.g. accumulates in bfloat16), the ``B x r``
candidates' reduced scores are checked against their float32 re-scores with
the same bound; any pair outside it sends the whole lookup to float32, with
a warning.

At a training batch (B = 512 queries, 98,304 rows) the GEMM is only half
the lookup; two choices keep the rest small: the rounded rows and their
norms are kept between lookups and re-rounded a batch at a time
(:class:`~.rounded_bank.RoundedBank`), and each block's candidates are
found through group maxima instead of a ``topk`` over the whole block
(:func:`~.block_candidates.block_top`); ``docs/benchmarks.md`` has the
lookup and step times this gives.

Each block gives only its share of the ``r`` candidates (at least 16),
which certifies as long as a query's near rows are spread over the
blocks. In a FIFO queue they are not always: the newest rows were
written by an encoder closest to the current one, and SNCLR's momentum
keys put 24 of a query's top 30 rows into one of 8 blocks (iteration 250
of the bench run at 128,000 rows), which sent 13 % of the queries back to
float32 (10 % over the whole run). A block whose dropped rows reach to
within ``2 u |q| max |x|`` of a lower bound of the k-th score (the k-th
of a row sample, then of the candidates so far) therefore gives ``r``
candidates: one more selection on that block, instead of a float32
re-lookup of the query.

The returned neighbours are the float32 path's rows in the same order
(both rank equal scores by row, lower first), and the similarities are
its bits where the re-score GEMM rounds as the lookup's (MKL: a GEMM of
16 queries against their candidates, and the float32 lookup pads fewer
than 16 queries to 16 and scores no block of under 16 rows). So a
training run is the same run in either score dtype
(``tools/benchmarks/score_dtype_training.py``).
"""
import warnings
from typing import Optional, Tuple

import torch
from torch import Tensor

from .block_candidates import (
    block_candidates,
    deepen,
    kth_best,
    merge_candidates,
)
from .cosine_topk import rank_ties_to_lower, rescore, topk_inner_product
from .rounded_bank import EXTRA, round_rows
from .score_bound import ScoreBound

# Candidates each bank block contributes at most (see rerank_size).
BLOCK_CANDIDATES = 16
# Bank rows scored to pick each query's centre c.
CENTRE_SAMPLE = 2048


def rerank_size(k: int) -> int:
    """Default number ``r`` of reduced-precision candidates re-scored in
    float32 per query: ``max(16, 2k + 1)`` (16 for NNCLR's k = 1, 61 for
    SNCLR's k = 30). See :func:`topk_reduced_precision` for how it was
    chosen."""
    return max(16, 2 * k + 1)


def topk_reduced_precision(query: Tensor,
                           bank: Tensor,
                           k: int,
                           block_size: Optional[int],
                           dtype: torch.dtype,
                           rerank: Optional[int] = None,
                           rounded: Optional[Tuple[Tensor, Tensor,
                                                   Tensor]] = None
                           ) -> Tuple[Tensor, Tensor, int]:
    """:func:`topk_inner_product` scored in ``dtype``, decided in float32.

    The result equals the float32 lookup's for every query (see the module
    docstring for the bound that certifies it, and the float32 re-lookup of
    the queries it cannot certify).

    Memory: the ``B x block`` scores in ``dtype`` (half the float32 path's
    for the same block), the rounded bank (``N x (D + 16)`` in ``dtype``,
    kept by the caller in ``rounded`` or made here), up to
    ``B x 4(r + 1)`` candidates, and the float32 re-score of
    :data:`RESCORE_ROWS` queries at a time.

    ``r`` (default :func:`rerank_size`) trades the per-block selection's
    cost against the share of queries that need the float32 re-lookup
    (more than ``r - k`` dropped rows within the bound of the k-th score):
    see ``docs/benchmarks.md`` for both measured on real projections.

    Args:
        query (Tensor): ``(B, D)`` float32.
        bank (Tensor): ``(N, D)`` float32.
        k (int): Rows per query, ``1 <= k <= N``.
        block_size (int, optional): Bank rows scored at once; None scores
            all at once.
        dtype (torch.dtype): Reduced precision of the scores.
        rerank (int, optional): Candidates ``r >= k`` re-scored in float32
            per query. Defaults to ``rerank_size(k)``.
        rounded (tuple, optional): :func:`~.rounded_bank.round_rows` of
            ``bank`` (or of a buffer whose first ``N`` rows it is), e.g.
            from a :class:`~.rounded_bank.RoundedBank`. Made here if None.

    Returns:
        Tuple[Tensor, Tensor, int]: ``(B, k)`` float32 scores, descending,
        their ``(B, k)`` row indices, and how many queries were looked up
        again in float32.
    """
    num, dim = bank.shape
    if not 1 <= k <= num:
        raise ValueError(f'topk_reduced_precision: k must be in [1, {num}] '
                         f'(the bank size), got {k}')
    r = max(k, rerank_size(k) if rerank is None else rerank)
    num_q = query.shape[0]
    if r >= num or num_q == 0:
        # Every row would be a candidate: the float32 lookup is as cheap.
        vals, idx = topk_inner_product(query, bank, k, block_size)
        return vals, idx, 0
    info = torch.finfo(dtype)
    unit = info.eps / 2
    ext_all, norms, errs_x = rounded if rounded is not None else \
        round_rows(bank, dtype)
    query_r = query.to(dtype)
    # Centre c: about the best score of each query, so that the scores that
    # matter are small numbers and lose little to the rounding of the
    # output. From a sample of rows at first, then the best candidate so
    # far, rounded to dtype (so exact in the GEMM).
    sampled = min(num, CENTRE_SAMPLE)
    sample = (query_r @ ext_all[:sampled, :dim].T).topk(
        min(k, sampled), dim=1).values
    centre = sample[:, 0]
    centre_max = centre.float().abs()
    # About the final k-th score: where a block's dropped rows reach near
    # it, the block gives r candidates instead of a few (see "Deepen"
    # below). First the sample's estimate (its ceil(k S / N)-th best row:
    # the k-th best of the bank if the sample is typical), then also the
    # k-th best candidate so far (a lower bound).
    floor = sample[:, -(-k * sampled // num) - 1].float()
    # A generous stand-in for the error bound E, which needs the final
    # k-th score: deepening more often costs only a selection.
    q_norm = query.norm(dim=1)
    margin = 2 * unit * q_norm * norms[:num].amax()
    # Extended queries: [q~, -1, -c] . [x~, beta, 1] = q~.x~ - beta - c.
    query_x = query.new_zeros(num_q, dim + EXTRA, dtype=dtype)
    query_x[:, :dim] = query_r
    query_x[:, dim] = -1
    block = num if block_size is None else min(block_size, num)
    buffer = query.new_empty(num_q * block, dtype=dtype)
    work = query.new_empty(num_q * block // 2, dtype=dtype)
    # Each block contributes its best rows, BLOCK_CANDIDATES or twice its
    # share of r (a top-k costs more with k: 62 columns took twice 17's
    # time), the merge keeps the best r of all blocks'.
    num_blocks = -(-num // block)
    per_block = min(r, max(BLOCK_CANDIDATES, -(-2 * r // num_blocks)))
    # Candidates: score + c, their rounding allowance u |t| / (1 - u), row.
    cand_v, cand_e, cand_i = [], [], []
    # Reach of every dropped row: its score + c + rounding allowance.
    bound = query.new_full((num_q, ), float('-inf'))
    for start in range(0, num, block):
        ext = ext_all[start:min(start + block, num)]
        query_x[:, dim + 1] = -centre
        shift = centre.float()
        scores = buffer[:num_q * len(ext)].view(num_q, len(ext))
        torch.mm(query_x, ext.T, out=scores)
        # The block's best rows and (last column) a bound of the others.
        n = per_block
        vals, errs, cols = block_candidates(scores, n, work, shift,
                                            start, unit)
        if n < r and vals.shape[1] > n:
            # Deepen: the rows near a query crowd into few blocks (in a
            # FIFO queue the newest rows, written by an encoder closest to
            # the current one), more than n of them in one block; a
            # dropped row that reaches near the k-th score would fail
            # the query's certificate.
            floor = torch.maximum(floor, kth_best(
                cand_v + [vals[:, :n]], k))
            risk = (vals[:, n] + errs[:, n] >= floor - margin).nonzero()
            if len(risk):
                n = min(r, len(ext) - 1)
                vals, errs, cols = deepen(
                    scores, (vals, errs, cols), risk.squeeze(1), n, work,
                    shift, start, unit)
        if vals.shape[1] > n:
            bound = torch.maximum(bound, vals[:, n] + errs[:, n])
        cand_v.append(vals[:, :n])
        cand_e.append(errs[:, :n])
        cand_i.append(cols[:, :n])
        # The next blocks centre on the best score so far.
        centre = torch.maximum(shift, vals[:, 0]).to(dtype)
        centre_max = torch.maximum(centre_max, centre.float().abs())
        if sum(v.shape[1] for v in cand_v) >= 4 * (r + 1):
            # Merge now and then: memory stays B x 4(r+1) for any block.
            vals, errs, cols, bound = merge_candidates(
                torch.cat(cand_v, dim=1), torch.cat(cand_e, dim=1),
                torch.cat(cand_i, dim=1), bound, r)
            cand_v, cand_e, cand_i = [vals], [errs], [cols]
    del buffer, work
    cand_v, cand_e, cand_i, bound = merge_candidates(
        torch.cat(cand_v, dim=1), torch.cat(cand_e, dim=1),
        torch.cat(cand_i, dim=1), bound, r)

    exact = rescore(query, bank, cand_i)

    error = ScoreBound(query, query_r, norms[:num], errs_x[:num],
                       centre_max, dtype)
    alpha = error.alpha
    # Guard: the candidates' reduced scores must be within the bound of
    # their float32 scores, else the backend rounds more than modelled.
    # (Non-finite scores, from a non-finite query, are left to the float32
    # re-lookup.)
    consistent = bool(
        ((cand_v - alpha[:, None] - exact).abs() <=
         cand_e * 1.01 + error(exact))
        .logical_or_(~exact.isfinite()).all())

    # Top k of the candidates, ties to the lower row (the float32 path's
    # rule).
    best, best_idx = rank_ties_to_lower(exact, cand_i, k)
    # Certified: a dropped row that could reach the k-th score scores at
    # most bound + c - alpha + error in exact arithmetic; below it, none
    # can.
    kth = best[:, k - 1]
    reach = torch.where(bound.isneginf(), bound,
                        bound - alpha + error(kth))
    certain = reach < kth
    if not consistent:
        warnings.warn(
            f'topk_reduced_precision: {dtype} scores on {query.device} are '
            'less accurate than float32 accumulation allows; this lookup '
            'ran in float32')
        certain[:] = False
    redo = (~certain).nonzero().squeeze(1)
    if len(redo):
        vals, idx = topk_inner_product(query[redo], bank, k, block_size)
        best[redo], best_idx[redo] = vals, idx
    return best, best_idx, len(redo)
