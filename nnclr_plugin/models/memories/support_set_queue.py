"""The support set of NNCLR / candidate memory of SNCLR."""
from typing import Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ...utils.checks import check_bool, check_int
from ...utils.dist import gather_no_grad
from .cosine_topk import auto_block_size, topk_inner_product
from .neighbors import Neighbors
from .support_set_step import (
    META,
    SupportSetStep,
    TrainingStepMixin,
    complete_meta,
)


def check_block_size(block_size) -> None:
    """Raise for a ``block_size`` other than None, ``'auto'`` or an int
    >= 1, naming the config key."""
    if block_size in (None, 'auto'):
        return
    if isinstance(block_size, bool) or not isinstance(block_size, int) \
            or block_size < 1:
        raise ValueError('SupportSetQueue: block_size must be None, '
                         "'auto' or an int >= 1, got "
                         f'model.head.queue.block_size={block_size!r}')


@MODELS.register_module()
class SupportSetQueue(TrainingStepMixin, BaseModule):
    """FIFO queue of L2-normalised projections with top-k cosine lookup.

    State lives in persistent buffers (``queue``, ``ptr``, ``num_filled``,
    and for diagnostics ``labels`` and ``sample_idx``, the dataset index of
    each row), so it is checkpointed, resumed and moved with the model.
    Under DDP :meth:`enqueue` all-gathers the new rows first, so every rank
    holds the same queue, in rank order, as one process fed the
    concatenated batch would.

    A training step uses it through :meth:`begin_step` and
    :meth:`end_step`, which :class:`SupportSetQueueHook` calls around every
    iteration, and in between the heads' :meth:`lookup`, :meth:`stash` and
    :meth:`record`: rows stashed during the step are enqueued when it ends,
    so lookups never see the current batch.

    Args:
        size (int): Number of rows (the support set size).
        feat_dim (int): Dimension of the stored projections.
        block_size (int | str, optional): :meth:`nearest` scores the queue
            in blocks of this many rows, so a ``B x size`` similarity matrix
            is never built (peak ``B x block_size``); None scores it at
            once; ``'auto'`` picks blocks of about 16 MiB of scores for the
            batch at hand (see :func:`auto_block_size`). The result does not
            depend on it (up to float rounding). Defaults to ``'auto'``.
        score_dtype: Removed (the lookup scores in the queue's float32);
            setting it is an error that says so.
        track_labels (bool): Keep the labels and dataset indices of
            enqueued rows, for the NN-agreement log and the neighbour
            picture (never used by a loss). Defaults to True.
        gather_distributed (bool): All-gather rows across ranks before
            enqueueing. Defaults to True.
        init_cfg (dict, optional): Unused; kept for mmengine's interface.
    """

    def __init__(self,
                 size: int,
                 feat_dim: int,
                 block_size: Union[int, str, None] = 'auto',
                 score_dtype: Optional[str] = None,
                 track_labels: bool = True,
                 gather_distributed: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_int('SupportSetQueue', size=size, feat_dim=feat_dim)
        check_block_size(block_size)
        if score_dtype is not None:
            raise ValueError(
                f'model.head.queue.score_dtype={score_dtype!r}: the '
                'reduced-precision lookup was removed; every lookup scores '
                'in float32. Delete score_dtype from the config')
        check_bool('SupportSetQueue', track_labels=track_labels,
                   gather_distributed=gather_distributed)
        self.size = size
        self.feat_dim = feat_dim
        self.block_size = block_size
        self.track_labels = track_labels
        self.gather_distributed = gather_distributed
        self.register_buffer('queue', torch.zeros(size, feat_dim))
        self.register_buffer('ptr', torch.zeros((), dtype=torch.long))
        self.register_buffer('num_filled', torch.zeros((), dtype=torch.long))
        for name in META:
            self.register_buffer(name,
                                 torch.full((size, ), -1, dtype=torch.long))
        # Not checkpointed: the open training step, if any.
        self._step: Optional[SupportSetStep] = None

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        # torch would skip a mis-shaped queue with a message (non-strict
        # loading, as mmengine's resume does) but still load ptr and
        # num_filled: the new queue would claim zero rows as filled.
        saved = state_dict.get(prefix + 'queue')
        if saved is not None and tuple(saved.shape) != tuple(
                self.queue.shape):
            key = 'model.' + prefix[len('module.'):] if prefix.startswith(
                'module.') else 'model.' + prefix
            raise ValueError(
                f'The checkpoint\'s support set {prefix}queue has shape '
                f'{tuple(saved.shape)} (size x feat_dim) but the config '
                f'builds {tuple(self.queue.shape)} ({key}size={self.size}, '
                f'{key}feat_dim={self.feat_dim}). Resume with the '
                'original size and feat_dim, or start a new run from the '
                'weights only (load_from without resume, after dropping the '
                'queue buffers from the checkpoint).')
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    # ------------------------------------------------------------ state
    @property
    def filled(self) -> int:
        """Number of valid rows."""
        return int(self.num_filled)

    @property
    def is_empty(self) -> bool:
        return self.filled == 0

    def check_dim(self, feats: torch.Tensor, what: str) -> None:
        if feats.dim() != 2 or feats.shape[1] != self.feat_dim:
            raise ValueError(
                f'SupportSetQueue: {what} has shape {tuple(feats.shape)}, '
                f'expected (N, {self.feat_dim}); the queue\'s feat_dim '
                f'({self.feat_dim}) must equal the projection (neck) '
                'out_channels')

    # ------------------------------------------------------------ write
    @torch.no_grad()
    def enqueue(self, feats: torch.Tensor, **meta: torch.Tensor) -> None:
        """Normalise, gather across ranks and write rows FIFO.

        Args:
            feats (Tensor): ``(N, feat_dim)`` rows of this rank.
            **meta (Tensor): Optional ``labels`` and ``sample_idx``, ``(N,)``
                each, stored for diagnostics only (-1 when not given).
        """
        self.check_dim(feats, 'enqueue(feats)')
        unknown = set(meta) - set(META)
        if unknown:
            raise TypeError(f'SupportSetQueue.enqueue: unknown metadata '
                            f'{sorted(unknown)}; expected {META}')
        feats = F.normalize(feats.detach().float(), dim=1)
        meta = complete_meta(meta, feats.shape[0], feats.device)
        if self.gather_distributed:
            feats = gather_no_grad(feats)
            meta = {k: gather_no_grad(v) for k, v in meta.items()}
        n = feats.shape[0]
        if n > self.size:
            raise ValueError(
                f'SupportSetQueue: {n} rows enqueued at once (global batch) '
                f'exceed size={self.size}; the support set must hold at '
                'least one global batch')
        ptr = int(self.ptr)
        rows = (torch.arange(n, device=self.queue.device) + ptr) % self.size
        self.queue[rows] = feats.to(self.queue.dtype)
        if self.track_labels:
            for name, values in meta.items():
                getattr(self, name)[rows] = values.to(self.queue.device)
        self.ptr.fill_((ptr + n) % self.size)
        self.num_filled.fill_(min(self.filled + n, self.size))

    # ------------------------------------------------------------ read
    @torch.no_grad()
    def nearest(self, query: torch.Tensor, k: int = 1) -> Neighbors:
        """Top-``k`` rows by cosine similarity to each query.

        Only the filled part of the queue is searched. ``k`` is clipped to
        the number of filled rows.

        Args:
            query (Tensor): ``(B, feat_dim)``, need not be normalised.
            k (int): Neighbours per query.

        Returns:
            Neighbors: vectors, indices and similarities, best first.
        """
        self.check_dim(query, 'nearest(query)')
        if k < 1:
            raise ValueError(f'SupportSetQueue.nearest: k must be >= 1, '
                             f'got {k}')
        filled = self.filled
        if filled == 0:
            raise RuntimeError('SupportSetQueue.nearest: the queue is empty; '
                               'check `is_empty` before looking up')
        k = min(k, filled)
        query = F.normalize(query.detach().to(self.queue.dtype), dim=1)
        bank = self.queue[:filled]
        block_size = self.block_size
        if block_size == 'auto':
            block_size = auto_block_size(query, k)
        best_sims, best_idx = topk_inner_product(query, bank, k, block_size)
        return Neighbors(bank[best_idx], best_idx, best_sims)

    def extra_repr(self) -> str:
        return (f'size={self.size}, feat_dim={self.feat_dim}, '
                f'block_size={self.block_size}')
