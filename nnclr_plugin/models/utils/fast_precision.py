"""Support-set lookup at the hardware's fast precision, exact by construction.

The lookup's cost is the ``B x N x d`` score product. In bfloat16 (or
float16) it runs several times faster where the hardware has the units
(AVX512-BF16 / AMX on CPUs, tensor cores on GPUs), but rounding the inputs
to 8 (11) significant bits moves scores by up to ~1e-2 and changes the
nearest neighbour of a few per cent of queries on near-ties.
:func:`topk_reduced_precision` therefore only *pre-selects* in reduced
precision and decides in float32:

1. score every bank row in ``dtype`` (blocked, as the float32 path) and keep
   the ``r`` best rows per query as candidates, plus ``U``: an upper bound
   of the reduced-precision score of every row that was dropped;
2. re-score the ``r`` candidates in float32 and take the top ``k`` among
   them, ties to the lower row index (the float32 path's rule);
3. certify each query: a dropped row's float32 score is at most
   ``U + E`` (the error bound below); if ``U + E`` is below the k-th
   float32 score, no dropped row can be among the top ``k`` and the result
   *is* the float32 path's. Queries that fail the test (near-ties wider
   than ``r`` rows) are looked up again in float32, so every query gets the
   float32 answer.

Error bound ``E`` of one reduced score against the exact inner product
(``u``: unit roundoff of ``dtype``, ``2**-8`` for bfloat16, ``2**-11`` for
float16; ``q~``, ``x~``: the rounded vectors):

* input rounding: ``|q~.x~ - q.x| <= |q~ - q| |x~| + |q| |x~ - x|``
  (Cauchy-Schwarz), with the actual norms of the rounding errors, measured
  per query and per bank block (about ``2u`` for unit vectors);
* float32 accumulation of the ``d`` products (exact in float32): at most
  ``d 2**-22 |q~| |x~|``, twice the textbook ``gamma_d`` to allow the
  truncating adders of some tensor cores;
* rounding of the output score to ``dtype``: ``u |U| / (1 - u)``;
* the float32 scores themselves (the float32 path's and the re-score):
  ``3 d 2**-23 |q| |x|``.

At d = 256 and unit vectors that is about ``4e-3 + 3.9e-3 |U|`` in
bfloat16. As a guard against a backend that accumulates in reduced
precision (the bound would not hold), the ``B x r`` candidates' reduced
scores are checked against their float32 re-scores; any pair outside the
bound sends the whole lookup to float32 (with a warning).

"Exact" means equal to the float32 path up to float32 rounding of the
scores, the same as between two block sizes of that path: rows whose
float32 scores differ by less than ``~1e-5`` (two float32 GEMMs may round a
score differently) may swap places in ``k > 1`` results.
"""
import functools
import warnings
from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from .cosine_topk import TOPK_ROWS, topk_inner_product

SCORE_DTYPES = ('float32', 'bfloat16', 'float16', 'auto')
# Query rows per re-score chunk: r gathered bank rows each.
RESCORE_ROWS = 512


def rerank_size(k: int) -> int:
    """Default number ``r`` of reduced-precision candidates re-scored in
    float32 per query: ``max(16, 2k + 1)`` (16 for NNCLR's k = 1, 61 for
    SNCLR's k = 30). See :func:`topk_reduced_precision` for how it was
    chosen."""
    return max(16, 2 * k + 1)


@functools.lru_cache(maxsize=None)
def cpu_has_fast_bf16() -> bool:
    """Whether this CPU runs oneDNN's bfloat16 GEMM in hardware.

    True with AMX-BF16 tiles or AVX512-BF16 (``vdpbf16ps``), the units
    oneDNN's bf16 kernels use; without them bfloat16 is emulated or falls
    back to a reference GEMM, slower than float32. Feature-tested: torch's
    own CPU probes where this torch has them (2.3+), else the kernel's
    ``/proc/cpuinfo`` flags.
    """
    if not torch.backends.mkldnn.is_available():
        return False
    probes = [getattr(torch.cpu, name, None)
              for name in ('_is_amx_tile_supported',
                           '_is_avx512_bf16_supported')]
    if all(p is not None for p in probes):
        try:
            return any(bool(p()) for p in probes)
        except Exception:  # noqa: BLE001  (a probe that cannot run)
            pass
    try:
        with open('/proc/cpuinfo') as f:
            flags = f.read()
    except OSError:
        return False
    return 'amx_bf16' in flags or 'avx512_bf16' in flags


def resolve_score_dtype(score_dtype: str,
                        device: Union[torch.device, str]) -> torch.dtype:
    """The dtype a lookup on ``device`` scores in for ``score_dtype``.

    ``'auto'``: bfloat16 on a CPU with AMX / AVX512-BF16
    (:func:`cpu_has_fast_bf16`), bfloat16 on a CUDA device that supports it
    (compute capability 8.0+), else float32. Explicit ``'bfloat16'`` /
    ``'float16'`` are used as asked (float16 on CPU is emulated and slow).
    """
    if score_dtype != 'auto':
        return getattr(torch, score_dtype)
    device = torch.device(device)
    if device.type == 'cpu':
        fast = cpu_has_fast_bf16()
    elif device.type == 'cuda':
        fast = torch.cuda.is_bf16_supported()
    else:
        fast = False
    return torch.bfloat16 if fast else torch.float32


def check_lookup_options(owner: str, block_size, score_dtype) -> None:
    """Raise for a bad ``block_size`` or ``score_dtype`` of a lookup,
    naming the config key."""
    if block_size not in (None, 'auto') and (
            isinstance(block_size, bool) or not isinstance(block_size, int)
            or block_size < 1):
        raise ValueError(f'{owner}: block_size must be None, '
                         f"'auto' or an int >= 1, got {block_size!r}")
    if not isinstance(score_dtype, str) or score_dtype not in SCORE_DTYPES:
        raise ValueError(
            f'{owner}: score_dtype must be one of {SCORE_DTYPES}, got '
            f'model.head.queue.score_dtype={score_dtype!r}')


def _merge(vals: Tensor, cols: Tensor, bound: Tensor, r: int
           ) -> Tuple[Tensor, Tensor, Tensor]:
    """Keep the ``r`` best candidates of each row; the rest only raise the
    row's bound of dropped scores."""
    if vals.shape[1] <= r:
        return vals, cols, bound
    vals, order = vals.topk(r + 1, dim=1)
    bound = torch.maximum(bound, vals[:, r])
    return vals[:, :r], cols.gather(1, order[:, :r]), bound


def topk_reduced_precision(query: Tensor,
                           bank: Tensor,
                           k: int,
                           block_size: Optional[int],
                           dtype: torch.dtype,
                           rerank: Optional[int] = None
                           ) -> Tuple[Tensor, Tensor, int]:
    """:func:`topk_inner_product` scored in ``dtype``, decided in float32.

    The result equals the float32 lookup's for every query (see the module
    docstring for the bound that certifies it, and the float32 re-lookup of
    the queries it cannot certify).

    Memory: the ``B x block`` scores in ``dtype`` (half the float32 path's
    for the same block), one block of the bank in ``dtype``, up to
    ``B x 8(r + 1)`` candidates, and the float32 re-score of
    :data:`RESCORE_ROWS` queries at a time (``RESCORE_ROWS x r x D``).

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
    query_r = query.to(dtype)
    block = num if block_size is None else min(block_size, num)
    buffer = query.new_empty(num_q * block, dtype=dtype)
    cand_v, cand_i, norms = [], [], []  # norms: |x|, |x~ - x|, |x~|
    bound = query.new_full((num_q, ), float('-inf'))
    for start in range(0, num, block):
        rows = bank[start:start + block]
        rows_r = rows.to(dtype)
        rows_rf = rows_r.float()
        norms.append(torch.stack([
            rows.norm(dim=1).amax(), (rows_rf - rows).norm(dim=1).amax(),
            rows_rf.norm(dim=1).amax()]))
        del rows_rf
        scores = buffer[:num_q * rows.shape[0]].view(num_q, rows.shape[0])
        torch.mm(query_r, rows_r.T, out=scores)
        # topk copies what it sorts: a few query rows at a time keep that
        # copy small next to the block of scores.
        top = [part.topk(min(r + 1, rows.shape[0]), dim=1)
               for part in scores.split(TOPK_ROWS)]
        vals = torch.cat([v for v, _ in top])
        cols = torch.cat([i for _, i in top]) + start
        if vals.shape[1] > r:
            bound = torch.maximum(bound, vals[:, r].float())
        cand_v.append(vals[:, :r])
        cand_i.append(cols[:, :r])
        if len(cand_v) * r >= 8 * (r + 1):
            # Merge now and then: memory stays B x 8(r+1) for any block.
            vals, cols, bound = _merge(
                torch.cat(cand_v, dim=1).float(), torch.cat(cand_i, dim=1),
                bound, r)
            cand_v, cand_i = [vals], [cols]
    del buffer
    cand_v, cand_i, bound = _merge(
        torch.cat(cand_v, dim=1).float(), torch.cat(cand_i, dim=1), bound, r)

    # Exact float32 scores of the candidates.
    exact = torch.empty_like(cand_v)
    for s in range(0, num_q, RESCORE_ROWS):
        exact[s:s + RESCORE_ROWS] = torch.bmm(
            bank[cand_i[s:s + RESCORE_ROWS]],
            query[s:s + RESCORE_ROWS, :, None]).squeeze(2)

    # The error bound (module docstring), with a margin for its own
    # float32 evaluation.
    info = torch.finfo(dtype)
    unit = info.eps / 2
    x_norm, x_err, xr_norm = torch.stack(norms).amax(dim=0).tolist()
    q_norm, qr_norm = query.norm(dim=1), query_r.float().norm(dim=1)
    in_err = ((query_r.float() - query).norm(dim=1) * xr_norm +
              q_norm * x_err + dim * 2**-22 * qr_norm * xr_norm +
              3 * dim * 2**-23 * q_norm * x_norm) * 1.01 + 1e-7

    def error(score: Tensor) -> Tensor:  # bound of |reduced - exact|
        return in_err.view(-1, *[1] * (score.dim() - 1)) + (
            unit * score.abs() * 1.01 / (1 - unit) + info.smallest_normal)

    # Guard: the candidates' reduced scores must be within the bound of
    # their float32 scores, else the backend rounds more than modelled.
    # (Non-finite scores, from a non-finite query, are left to the float32
    # re-lookup.)
    consistent = bool(((cand_v - exact).abs() <= error(cand_v))
                      .logical_or_(~exact.isfinite()).all())

    # Top k of the candidates, ties to the lower row (the float32 path's
    # rule).
    cand_i, order = cand_i.sort(dim=1)
    exact, order = exact.gather(1, order).sort(
        dim=1, descending=True, stable=True)
    best = exact[:, :k].contiguous()
    best_idx = cand_i.gather(1, order[:, :k])
    # Certified: every dropped row scores at most bound + error(bound) in
    # exact arithmetic, below the k-th float32 score.
    reach = torch.where(bound.isneginf(), bound, bound + error(bound))
    certain = reach < best[:, k - 1]
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


def lookup_topk(query: Tensor, bank: Tensor, k: int,
                block_size: Optional[int], score_dtype: str
                ) -> Tuple[Tensor, Tensor, Optional[float]]:
    """The support-set lookup for a ``score_dtype`` option.

    :func:`topk_inner_product` when ``score_dtype`` resolves to the bank's
    own dtype (or the bank is not float32), else
    :func:`topk_reduced_precision`: the same neighbours and float32
    similarities, scored in the reduced type.

    Returns:
        Tuple[Tensor, Tensor, float | None]: ``(B, k)`` scores and indices,
        and the share of queries the reduced-precision path looked up again
        in float32 (None on the float32 path).
    """
    dtype = resolve_score_dtype(score_dtype, query.device)
    if dtype == bank.dtype or bank.dtype != torch.float32:
        vals, idx = topk_inner_product(query, bank, k, block_size)
        return vals, idx, None
    vals, idx, redo = topk_reduced_precision(query, bank, k, block_size,
                                             dtype)
    return vals, idx, redo / max(1, query.shape[0])
