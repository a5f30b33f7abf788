"""Which precision a support-set lookup scores in, and the lookup itself.

``SupportSetQueue(score_dtype=...)`` chooses between the float32 lookup
(:func:`~.cosine_topk.topk_inner_product`) and the reduced-precision one
that returns the same answer (:func:`~.fast_precision.topk_reduced_precision`):
``'float32'``, ``'bfloat16'``, ``'float16'``, or ``'auto'``, bfloat16 only
where the hardware runs it fast and the lookup is large enough to gain.
"""
import contextlib
import functools
from typing import Callable, Optional, Tuple, Union

import torch
from torch import Tensor

from .cosine_topk import auto_block_size, topk_inner_product
from .fast_precision import topk_reduced_precision

SCORE_DTYPES = ('float32', 'bfloat16', 'float16', 'auto')
# 'auto' scores in 16 bits from this many query x row scores (B x N) and
# bank rows on: below, the float32 lookup's few milliseconds are not worth
# the set-up. The lookup section of docs/benchmarks.md gives bfloat16's
# speed-ups on either side of this line (at 4,096 rows it can be slower).
AUTO_MIN_SCORES = 2**22
AUTO_MIN_ROWS = 2**14


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


@functools.lru_cache(maxsize=None)
def cpu_can_multiply(dtype: torch.dtype) -> bool:
    """Whether this torch has a CPU matrix product in ``dtype`` (torch 2.1
    has none in float16)."""
    try:
        torch.ones(2, 2, dtype=dtype) @ torch.ones(2, 2, dtype=dtype)
    except RuntimeError:
        return False
    return True


def resolve_score_dtype(score_dtype: str,
                        device: Union[torch.device, str]) -> torch.dtype:
    """The dtype a lookup on ``device`` scores in for ``score_dtype``.

    ``'auto'``: bfloat16 on a CPU with AMX / AVX512-BF16
    (:func:`cpu_has_fast_bf16`), bfloat16 on a CUDA device that supports it
    (compute capability 8.0+), else float32. Explicit ``'bfloat16'`` /
    ``'float16'`` are used as asked (float16 on CPU is emulated and slow);
    one this torch cannot multiply on the CPU is an error naming the key.
    """
    device = torch.device(device)
    if score_dtype != 'auto':
        dtype = getattr(torch, score_dtype)
        if device.type == 'cpu' and not cpu_can_multiply(dtype):
            raise ValueError(
                f'model.head.queue.score_dtype={score_dtype!r}: torch '
                f'{torch.__version__} has no {score_dtype} matrix product on '
                "the CPU; use 'bfloat16' or 'auto' there ('float16' works "
                'on CUDA)')
        return dtype
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


class AutoPause:
    """Keeps ``score_dtype='auto'`` from costing more than float32 where
    the reduced scores cannot separate the neighbours (a near-collapsed
    network, the same images many times in the queue): after a lookup
    that looked more than :attr:`MAX_RELOOKUP` of its queries up again in
    float32, the next :attr:`PAUSE` lookups run in float32 directly."""
    MAX_RELOOKUP = 0.5
    PAUSE = 16

    def __init__(self) -> None:
        self.left = 0

    def __call__(self, score_dtype: str) -> str:
        """The score dtype for the next lookup."""
        if score_dtype != 'auto' or not self.left:
            return score_dtype
        self.left -= 1
        return 'float32'

    def update(self, relookup_share: Optional[float]) -> None:
        """Record a lookup's share of float32 re-lookups."""
        if relookup_share is not None and \
                relookup_share > self.MAX_RELOOKUP:
            self.left = self.PAUSE


def lookup_topk(query: Tensor, bank: Tensor, k: int,
                block_size: Union[int, str, None], score_dtype: str,
                rounded: Optional[Callable[[torch.dtype], tuple]] = None
                ) -> Tuple[Tensor, Tensor, Optional[float]]:
    """The support-set lookup for a ``block_size`` and ``score_dtype``.

    :func:`topk_inner_product` when ``score_dtype`` resolves to the bank's
    own dtype (or the bank is not float32), else
    :func:`topk_reduced_precision`: the same neighbours and float32
    similarities, scored in the reduced type (``'auto'``: from
    :data:`AUTO_MIN_SCORES` scores and :data:`AUTO_MIN_ROWS` bank rows
    on). ``block_size='auto'`` is
    :func:`auto_block_size` rows (twice as many for a reduced-precision
    ``k = 1`` lookup: the same bytes of scores).

    Returns:
        Tuple[Tensor, Tensor, float | None]: ``(B, k)`` scores and indices,
        and the share of queries the reduced-precision path looked up again
        in float32 (None on the float32 path).
    """
    dtype = resolve_score_dtype(score_dtype, query.device)
    fast = dtype != bank.dtype and bank.dtype == torch.float32 and (
        score_dtype != 'auto'
        or (bank.shape[0] >= AUTO_MIN_ROWS and
            query.shape[0] * bank.shape[0] >= AUTO_MIN_SCORES))
    if block_size == 'auto':
        # k = 1: twice the rows, the same bytes of scores (fewer blocks,
        # less per-block work); k > 1 keeps the float32 rows, its peak
        # already holds the (B, k, D) neighbours.
        block_size = auto_block_size(query, k) * (2 if fast and k == 1
                                                  else 1)
    if not fast:
        vals, idx = topk_inner_product(query, bank, k, block_size)
        return vals, idx, None
    with _float32_context(query.device):
        vals, idx, redo = topk_reduced_precision(
            query, bank, k, block_size, dtype,
            rounded=None if rounded is None else rounded(dtype))
    return vals, idx, redo / max(1, query.shape[0])



@contextlib.contextmanager
def _float32_context(device: torch.device):
    """No autocast (an AMP step's would run the float32 re-score in 16
    bits), and on CUDA no reduced-precision split-K reductions in the 16-bit
    GEMMs (the bound assumes float32 accumulation)."""
    if device.type not in ('cpu', 'cuda'):
        yield
        return
    flags = torch.backends.cuda.matmul
    names = [n for n in ('allow_bf16_reduced_precision_reduction',
                         'allow_fp16_reduced_precision_reduction')
             if device.type == 'cuda' and hasattr(flags, n)]
    old = {n: getattr(flags, n) for n in names}
    try:
        for name in names:
            setattr(flags, name, False)
        with torch.autocast(device.type, enabled=False):
            yield
    finally:
        for name, value in old.items():
            setattr(flags, name, value)
