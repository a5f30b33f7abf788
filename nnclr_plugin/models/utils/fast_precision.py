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

from .cosine_topk import TOPK_ROWS, auto_block_size, topk_inner_product

SCORE_DTYPES = ('float32', 'bfloat16', 'float16', 'auto')
# Query rows per float32 re-score GEMM (each against the r candidates of
# all of them: RESCORE_GROUP times the work of the re-score itself), and
# per chunk of the re-score (RESCORE_ROWS x r gathered bank rows).
RESCORE_GROUP = 16
RESCORE_ROWS = 512
# Bank rows scored to pick each query's centre c.
CENTRE_SAMPLE = 2048
# Columns added to the vectors (-1 . beta, -c . 1, zeros to a multiple of
# 16: the GEMM kernels' step).
EXTRA = 16


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
    query_r = query.to(dtype)
    q_err = query_r.float() - query
    # Centre c: about the best score of each query (the best of a sample
    # of rows), so that the scores that matter are small numbers and lose
    # little to the rounding of the output. Exactly representable.
    sample = bank[:CENTRE_SAMPLE].to(dtype)
    centre = (query_r @ sample.T).amax(dim=1)
    # Extended vectors: [q~, -1, -c] . [x~, beta, 1] = q~.x~ - beta - c,
    # padded to a multiple of 16 columns for the GEMM kernels.
    width = dim + EXTRA
    query_x = query.new_zeros(num_q, width, dtype=dtype)
    query_x[:, :dim] = query_r
    query_x[:, dim] = -1
    query_x[:, dim + 1] = -centre
    block = num if block_size is None else min(block_size, num)
    rows_x = query.new_zeros(block, width, dtype=dtype)
    rows_x[:, dim + 1] = 1
    buffer = query.new_empty(num_q * block, dtype=dtype)
    cand_v, cand_i = [], []
    stats = []  # per block: max |x|, max |x~ - x|
    bound = query.new_full((num_q, ), float('-inf'))
    for start in range(0, num, block):
        rows = bank[start:start + block]
        num_rows = rows.shape[0]
        ext = rows_x[:num_rows]
        ext[:, :dim] = rows  # rounds to dtype
        diff = ext[:, :dim].float().sub_(rows)
        ext[:, dim] = (diff * rows).sum(dim=1)  # beta = x . (x~ - x)
        stats.append(torch.stack([rows.norm(dim=1).amax(),
                                  diff.norm(dim=1).amax()]))
        del diff
        scores = buffer[:num_q * num_rows].view(num_q, num_rows)
        torch.mm(query_x, ext.T, out=scores)
        # topk copies what it sorts: a few query rows at a time keep that
        # copy small next to the block of scores.
        top = [part.topk(min(r + 1, num_rows), dim=1)
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
    del buffer, rows_x
    cand_v, cand_i, bound = _merge(
        torch.cat(cand_v, dim=1).float(), torch.cat(cand_i, dim=1), bound, r)

    # Float32 scores of the candidates, by a GEMM as the float32 path's:
    # groups of RESCORE_GROUP queries against all their candidates, of
    # which the diagonal blocks are kept. (A GEMM of several query rows
    # rounds each score as the float32 lookup's does, bit for bit with MKL;
    # a matrix-vector product does not, ~1e-7 apart.)
    exact = torch.empty_like(cand_v)
    group = RESCORE_GROUP
    diag = torch.arange(group, device=query.device)
    for s in range(0, num_q, RESCORE_ROWS):
        part, idx = query[s:s + RESCORE_ROWS], cand_i[s:s + RESCORE_ROWS]
        count = len(part)
        pad = -count % group
        if pad:
            part = torch.cat([part, part.new_zeros(pad, dim)])
            idx = torch.cat([idx, idx.new_zeros(pad, idx.shape[1])])
        groups = len(part) // group
        rows = bank[idx.reshape(-1)].view(groups, -1, dim)
        both = torch.bmm(part.view(groups, group, dim), rows.transpose(1, 2))
        exact[s:s + count] = both.view(groups, group, group, -1)[
            :, diag, diag].reshape(len(part), -1)[:count]

    # The error bound of the module docstring; 1 % margin for its own
    # float32 evaluation.
    x_norm, x_err = torch.stack(stats).amax(0).tolist()
    # |x~| <= |x| + |x~ - x|; |beta| <= |x| |x~ - x| (+ its own rounding).
    xr_norm, beta_max = x_norm + x_err, x_norm * x_err * 1.01
    q_norm = query.norm(dim=1)
    a_err = q_err.norm(dim=1)
    centre = centre.float()
    shift = centre - (query * q_err).sum(dim=1)  # c - alpha
    f32 = 3 * dim * 2**-23 * q_norm * x_norm
    fixed = (unit * beta_max + a_err * x_err + f32 + (dim + 2) * 2**-22 * (
        query_r.float().norm(dim=1) * xr_norm + beta_max + centre.abs()))

    def error(reduced: Tensor, score: Tensor) -> Tensor:
        """Bound of |exact - (reduced + c - alpha)| for a row whose exact
        score is >= score; ``(B,)`` or ``(B, r)``."""
        def col(value: Tensor) -> Tensor:  # per query, against reduced
            return value if reduced.dim() == 1 else value[:, None]

        dist = (col(q_norm**2 + 2 * f32) + x_norm**2 - 2 * score).clamp(
            min=0)
        return (unit * reduced.abs() / (1 - unit) + col(fixed) +
                info.smallest_normal * info.eps +
                col(a_err + x_err) * dist.sqrt()) * 1.01 + 1e-7

    # Guard: the candidates' reduced scores must be within the bound of
    # their float32 scores, else the backend rounds more than modelled.
    # (Non-finite scores, from a non-finite query, are left to the float32
    # re-lookup.)
    consistent = bool(
        ((cand_v + shift[:, None] - exact).abs() <= error(cand_v, exact))
        .logical_or_(~exact.isfinite()).all())

    # Top k of the candidates, ties to the lower row (the float32 path's
    # rule).
    cand_i, order = cand_i.sort(dim=1)
    exact, order = exact.gather(1, order).sort(
        dim=1, descending=True, stable=True)
    best = exact[:, :k].contiguous()
    best_idx = cand_i.gather(1, order[:, :k])
    # Certified: a dropped row that could reach the k-th score scores at
    # most bound + c - alpha + error in exact arithmetic; below it, none
    # can.
    kth = best[:, k - 1]
    reach = torch.where(bound.isneginf(), bound,
                        bound + shift + error(bound, kth))
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


def lookup_topk(query: Tensor, bank: Tensor, k: int,
                block_size: Union[int, str, None], score_dtype: str
                ) -> Tuple[Tensor, Tensor, Optional[float]]:
    """The support-set lookup for a ``block_size`` and ``score_dtype``.

    :func:`topk_inner_product` when ``score_dtype`` resolves to the bank's
    own dtype (or the bank is not float32), else
    :func:`topk_reduced_precision`: the same neighbours and float32
    similarities, scored in the reduced type. ``block_size='auto'`` is
    :func:`auto_block_size` rows, twice as many in 16 bits (the same bytes
    of scores).

    Returns:
        Tuple[Tensor, Tensor, float | None]: ``(B, k)`` scores and indices,
        and the share of queries the reduced-precision path looked up again
        in float32 (None on the float32 path).
    """
    dtype = resolve_score_dtype(score_dtype, query.device)
    fast = dtype != bank.dtype and bank.dtype == torch.float32
    if block_size == 'auto':
        block_size = auto_block_size(query, k) * (2 if fast else 1)
    if not fast:
        vals, idx = topk_inner_product(query, bank, k, block_size)
        return vals, idx, None
    vals, idx, redo = topk_reduced_precision(query, bank, k, block_size,
                                             dtype)
    return vals, idx, redo / max(1, query.shape[0])
