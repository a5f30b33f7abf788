"""The support set of NNCLR / candidate memory of SNCLR."""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..utils import auto_block_size, gather_no_grad  # noqa: F401
from ..utils.fast_precision import (AutoPause, check_lookup_options,
                                    lookup_topk)
from ...utils.checks import check_bool, check_int
from .neighbors import Neighbors, label_agreement

# Per-row metadata kept for diagnostics: the ground-truth label and the
# dataset index of the sample whose projection the row holds.
META = ('labels', 'sample_idx')
HOOK_HINT = ("add custom_hooks = [dict(type='SupportSetQueueHook')] to the "
             'config, or call queue.manage_manually() and queue.flush() '
             'after each optimisation step yourself')


def _complete_meta(meta: Dict[str, Optional[torch.Tensor]], num_rows: int,
                   device) -> Dict[str, torch.Tensor]:
    """Every field of :data:`META` as a long tensor on ``device``; -1 for
    the fields not given."""
    return {
        name: meta[name].to(device).long() if meta.get(name) is not None
        else torch.full((num_rows, ), -1, dtype=torch.long, device=device)
        for name in META
    }


@MODELS.register_module()
class SupportSetQueue(BaseModule):
    """FIFO queue of L2-normalised projections with top-k cosine lookup.

    State lives in persistent buffers (``queue``, ``ptr``, ``num_filled``,
    and for diagnostics ``labels`` and ``sample_idx``, the dataset index of
    each row), so it is checkpointed, resumed and moved with the model.
    Under DDP :meth:`enqueue` all-gathers the new rows first, so every rank
    holds the same queue, in rank order, as one process fed the
    concatenated batch would.

    One training step, as :class:`SupportSetQueueHook` drives it:

    1. the hook hands over the batch's labels and sample indices
       (:meth:`set_batch_meta`) and switches lookups off during warm-up;
    2. a head calls :meth:`lookup` (``None`` while there is nothing to use:
       then it falls back to the view itself) and :meth:`stash` es its rows;
    3. after the optimiser step the hook calls :meth:`flush`, which
       enqueues the stashed rows, and logs :meth:`pop_stats`.

    Lookups therefore never see the current batch.

    Args:
        size (int): Number of rows (the support set size).
        feat_dim (int): Dimension of the stored projections.
        block_size (int | str, optional): :meth:`nearest` scores the queue
            in blocks of this many rows, so a ``B x size`` similarity matrix
            is never built (peak ``B x block_size``); None scores it at
            once; ``'auto'`` picks blocks of about 16 MiB of scores for the
            batch at hand (see :func:`auto_block_size`). The result does not
            depend on it. Defaults to ``'auto'``.
        score_dtype (str): ``'float32'``, ``'bfloat16'``, ``'float16'``
            or ``'auto'`` (bfloat16 where the hardware has it): scores in
            that type, then the float32 answer (see :func:`lookup_topk`).
            Defaults to ``'auto'``.
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
                 score_dtype: str = 'auto',
                 track_labels: bool = True,
                 gather_distributed: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_int('SupportSetQueue', size=size, feat_dim=feat_dim)
        check_lookup_options('SupportSetQueue', block_size, score_dtype)
        check_bool('SupportSetQueue', track_labels=track_labels,
                   gather_distributed=gather_distributed)
        self.size = size
        self.feat_dim = feat_dim
        self.block_size = block_size
        self.score_dtype = score_dtype
        self.relookup_share: Optional[float] = None
        self.auto_pause = AutoPause()
        self.track_labels = track_labels
        self.gather_distributed = gather_distributed
        self.register_buffer('queue', torch.zeros(size, feat_dim))
        self.register_buffer('ptr', torch.zeros((), dtype=torch.long))
        self.register_buffer('num_filled', torch.zeros((), dtype=torch.long))
        for name in META:
            self.register_buffer(name,
                                 torch.full((size, ), -1, dtype=torch.long))
        # Run-time state, not checkpointed: the batch's metadata, rows
        # waiting for flush(), who calls flush(), whether lookups are on
        # (warm-up) and the diagnostics of this step.
        self._batch_meta: Dict[str, Optional[torch.Tensor]] = dict.fromkeys(
            META)
        self._pending: List[Tuple[torch.Tensor, Dict]] = []
        self.manager: Optional[str] = None
        self.use_neighbors = True
        self.stats: Dict[str, List[float]] = {}

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

    def _check_dim(self, feats: torch.Tensor, what: str) -> None:
        if feats.dim() != 2 or feats.shape[1] != self.feat_dim:
            raise ValueError(
                f'SupportSetQueue: {what} has shape {tuple(feats.shape)}, '
                f'expected (N, {self.feat_dim}); the queue\'s feat_dim '
                f'({self.feat_dim}) must equal the projection (neck) '
                'out_channels')

    def set_batch_meta(self,
                       labels: Optional[torch.Tensor] = None,
                       sample_idx: Optional[torch.Tensor] = None) -> None:
        """Labels and dataset indices of this step's batch (this rank).

        Rows stashed or looked up with as many rows as the batch (or a
        multiple: several views stacked) are matched to them in order;
        other rows get -1 (unknown).
        """
        self._batch_meta = dict(labels=labels, sample_idx=sample_idx)

    def _meta_for(self, num_rows: int, device) -> Dict[str, torch.Tensor]:
        """The batch's metadata for ``num_rows`` rows (views repeat it)."""
        return _complete_meta({
            name: values.repeat(num_rows // len(values))
            for name, values in self._batch_meta.items()
            if values is not None and len(values)
            and num_rows % len(values) == 0
        }, num_rows, device)

    # ------------------------------------------------------------ write
    @torch.no_grad()
    def enqueue(self, feats: torch.Tensor, **meta: torch.Tensor) -> None:
        """Normalise, gather across ranks and write rows FIFO.

        Args:
            feats (Tensor): ``(N, feat_dim)`` rows of this rank.
            **meta (Tensor): Optional ``labels`` and ``sample_idx``, ``(N,)``
                each, stored for diagnostics only (-1 when not given).
        """
        self._check_dim(feats, 'enqueue(feats)')
        unknown = set(meta) - set(META)
        if unknown:
            raise TypeError(f'SupportSetQueue.enqueue: unknown metadata '
                            f'{sorted(unknown)}; expected {META}')
        feats = F.normalize(feats.detach().float(), dim=1)
        meta = _complete_meta(meta, feats.shape[0], feats.device)
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

    def stash(self, feats: torch.Tensor, first_only: bool = False) -> None:
        """Keep rows of the current step for the next :meth:`flush`.

        Args:
            feats (Tensor): ``(N, feat_dim)`` rows, in batch order.
            first_only (bool): Ignore the rows if some are already waiting,
                i.e. keep only the first stash of each step.

        Raises:
            RuntimeError: If nothing flushes the queue (no hook).
        """
        if self.manager is None:
            raise RuntimeError(
                'SupportSetQueue: rows were produced during training but no '
                f'SupportSetQueueHook manages this queue; {HOOK_HINT}')
        self._check_dim(feats, 'stash(feats)')
        if first_only and self._pending:
            return
        self._pending.append(
            (feats.detach(), self._meta_for(feats.shape[0], feats.device)))

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def flush(self) -> None:
        """Enqueue every stashed row (in stash order) and clear the stash."""
        if not self._pending:
            return
        feats = torch.cat([f for f, _ in self._pending], dim=0)
        meta = {
            name: torch.cat([m[name] for _, m in self._pending], dim=0)
            for name in META
        }
        self._pending.clear()
        self.enqueue(feats, **meta)

    def manage_manually(self) -> None:
        """Declare that the caller flushes the queue (no hook needed)."""
        self.manager = 'manual'

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
        self._check_dim(query, 'nearest(query)')
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
        best_sims, best_idx, self.relookup_share = lookup_topk(
            query, bank, k, self.block_size, self.auto_pause(self.score_dtype))
        self.auto_pause.update(self.relookup_share)
        return Neighbors(bank[best_idx], best_idx, best_sims)

    def lookup(self, query: torch.Tensor, k: int) -> Optional[Neighbors]:
        """:meth:`nearest` for training, or None when there is nothing to
        use: ``k == 0``, an empty queue, or lookups switched off (the
        hook's warm-up). Records the lookup's diagnostics."""
        if k == 0 or self.is_empty or not self.use_neighbors:
            return None
        nbrs = self.nearest(query, k)
        self.record('nn_similarity', float(nbrs.sims[:, 0].mean()))
        if self.relookup_share is not None:  # reduced-precision lookup
            self.record('float32_relookup', self.relookup_share)
        labels = self.labels_of(nbrs)
        if labels is not None:
            agreement = label_agreement(labels[0], labels[1][:, :1])
            if agreement is not None:
                self.record('nn_label_agreement', agreement)
        return nbrs

    def labels_of(self, nbrs: Neighbors
                  ) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
        """``(B,)`` labels of this step's queries (from the hook) and
        ``(B, k)`` stored labels of their neighbours; -1 where unknown.
        None when the queue does not track labels."""
        if not self.track_labels:
            return None
        num_queries = nbrs.indices.shape[0]
        query_labels = self._meta_for(num_queries, self.labels.device)
        return query_labels['labels'], self.labels[nbrs.indices]

    # ------------------------------------------------------ diagnostics
    def record(self, name: str, value: float) -> None:
        """Add a value to this step's diagnostic ``name`` (logged as
        ``support_set/<name>`` by the hook, averaged over the step)."""
        self.stats.setdefault(name, []).append(float(value))

    def pop_stats(self) -> Dict[str, float]:
        """Mean of each recorded diagnostic since the last call; resets."""
        out = {k: sum(v) / len(v) for k, v in self.stats.items() if v}
        self.stats = {}
        return out

    def extra_repr(self) -> str:
        return (f'size={self.size}, feat_dim={self.feat_dim}, '
                f'block_size={self.block_size}, '
                f'score_dtype={self.score_dtype}')
