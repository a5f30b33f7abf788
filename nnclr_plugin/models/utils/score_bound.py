"""The error bound that certifies a reduced-precision lookup.

:func:`~.fast_precision.topk_reduced_precision` scores ``t = q~.x~ -
beta_x - c`` in bfloat16 / float16 and keeps a query's float32 answer only
if no dropped row can reach its k-th float32 score ``L``:
``U + c - alpha + E < L``. :class:`ScoreBound` is ``E`` as a function of
the score, and ``alpha``.

Bound ``E`` (``u``: unit roundoff of ``dtype``, ``2**-8`` for bfloat16,
``2**-11`` for float16). Expanding ``q~.x~`` around ``q.x``::

    q~.x~ = q.x + alpha + beta_x + (dq - dx).(x - q) + dq.dx

with ``dq = q~ - q``, ``dx = x~ - x``, so what is left after folding
``alpha`` and ``beta_x`` shrinks with the distance of the row from the
query, which is small exactly where rows compete:

* ``(|dq| + max |dx|) |x - q| + |dq| max |dx|`` (Cauchy-Schwarz), with
  ``|x - q|^2 <= |q|^2 + max |x|^2 - 2 L`` for any row that could reach
  ``L``; ``|dq|`` per query and ``max |dx|``, ``max |x|`` per lookup are
  measured;
* rounding of ``beta_x`` to ``dtype``: ``u max |beta_x|``;
* float32 accumulation of the ``d + 2`` exact products: at most
  ``(d + 2) 2**-22 (|q~| |x~| + |beta| + |c|)``, twice the textbook
  ``gamma``, for the truncating adders of some tensor cores;
* rounding of ``t`` to ``dtype``: ``u |U| / (1 - u)``;
* the float32 scores themselves (the float32 path's and the re-score):
  ``3 d 2**-23 |q| max |x|``.
"""
import torch
from torch import Tensor


class ScoreBound:
    """``E(score)``: a bound of ``|q.x - (t + c - alpha)|``, less the
    rounding of ``t`` to ``dtype`` (allowed for per candidate), for any row
    ``x`` whose exact score is at least ``score``.

    Args:
        query (Tensor): ``(B, D)`` float32 queries.
        query_r (Tensor): ``query`` rounded to ``dtype``.
        norms (Tensor): ``|x|`` of every bank row.
        errs (Tensor): ``|x~ - x|`` of every bank row.
        centre_max (Tensor): ``(B, )`` largest ``|c|`` the lookup used.
        dtype (torch.dtype): The reduced precision.
    """

    def __init__(self, query: Tensor, query_r: Tensor, norms: Tensor,
                 errs: Tensor, centre_max: Tensor,
                 dtype: torch.dtype) -> None:
        self.info = torch.finfo(dtype)
        unit = self.info.eps / 2
        dim = query.shape[1]
        q_err = query_r.float() - query
        x_norm, x_err = torch.stack([norms.amax(), errs.amax()]).tolist()
        # |x~| <= |x| + |x~ - x|; |beta| <= |x| |x~ - x| (+ its own
        # rounding).
        xr_norm, beta_max = x_norm + x_err, x_norm * x_err * 1.01
        self.q_norm = query.norm(dim=1)
        self.x_norm = x_norm
        self.spread = q_err.norm(dim=1) + x_err
        #: ``q.(q~ - q)``, per query.
        self.alpha = (query * q_err).sum(dim=1)
        self.f32 = 3 * dim * 2**-23 * self.q_norm * x_norm
        self.fixed = (unit * beta_max + q_err.norm(dim=1) * x_err + self.f32
                      + (dim + 2) * 2**-22 * (
                          query_r.float().norm(dim=1) * xr_norm + beta_max +
                          centre_max))

    def __call__(self, score: Tensor) -> Tensor:
        """``E`` for rows scoring at least ``score`` (``(B, )`` or
        ``(B, n)``), with 1 % margin for its own float32 evaluation."""
        def col(value: Tensor) -> Tensor:  # per query, against score
            return value if score.dim() == 1 else value[:, None]

        dist = (col(self.q_norm**2 + 2 * self.f32) + self.x_norm**2 -
                2 * score).clamp(min=0)
        return (col(self.fixed) + self.info.smallest_normal * self.info.eps
                + col(self.spread) * dist.sqrt()) * 1.01 + 1e-7
