"""The support set of NNCLR / candidate memory of SNCLR."""
from typing import List, NamedTuple, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..utils import gather_no_grad, topk_inner_product

HOOK_HINT = ("add custom_hooks = [dict(type='SupportSetQueueHook')] to the "
             'config, or call queue.manage_manually() and queue.flush() '
             'after each optimisation step yourself')


class Neighbors(NamedTuple):
    """Result of :meth:`SupportSetQueue.nearest`.

    Attributes:
        feats (Tensor): ``(B, k, D)`` neighbour vectors (unit norm).
        indices (Tensor): ``(B, k)`` their rows in the queue.
        sims (Tensor): ``(B, k)`` cosine similarities, descending.
    """
    feats: torch.Tensor
    indices: torch.Tensor
    sims: torch.Tensor


def auto_block_size(query: torch.Tensor, k: int = 1,
                    score_bytes: int = 16 * 2**20) -> int:
    """Queue rows per lookup block for ``block_size='auto'``.

    About ``score_bytes`` of scores per block, so that the max / top-k pass
    reads them from cache, but at least 4,096 rows (8,192 for ``k > 1``,
    whose per-block top-k has a fixed cost). Measured on CPU with
    ``tools/benchmarks/support_set_lookup.py``: 0.7-0.85x the time of one
    full score matrix at 98,304 rows.

    Args:
        query (Tensor): ``(B, D)`` queries of the lookup.
        k (int): Neighbours per query.
        score_bytes (int): Target size of one block of scores.

    Returns:
        int: Rows per block.
    """
    per_row = max(1, query.shape[0] * query.element_size())
    return max(4096 if k == 1 else 8192, score_bytes // per_row)


@MODELS.register_module()
class SupportSetQueue(BaseModule):
    """FIFO queue of L2-normalised projections with top-k cosine lookup.

    State lives in persistent buffers (``queue``, ``ptr``, ``num_filled``,
    ``labels``), so it is checkpointed, resumed and moved with the model.
    Under DDP :meth:`enqueue` all-gathers the new rows first, so every rank
    holds the same queue, in rank order, as one process fed the concatenated
    batch would.

    Training code does not enqueue directly: it :meth:`stash` es the rows of
    the current step, and :class:`SupportSetQueueHook` calls :meth:`flush`
    after the optimiser step. Lookups therefore never see the current batch.

    Args:
        size (int): Number of rows (the support set size).
        feat_dim (int): Dimension of the stored projections.
        block_size (int | str, optional): :meth:`nearest` scores the queue
            in blocks of this many rows, so a ``B x size`` similarity matrix
            is never built (peak ``B x block_size``); None scores it at
            once; ``'auto'`` picks blocks of about 16 MiB of scores for the
            batch at hand (see :func:`auto_block_size`). The result does not
            depend on it. Defaults to ``'auto'``.
        track_labels (bool): Keep the ground-truth labels of enqueued rows
            for the NN-agreement diagnostic (never used by a loss).
            Defaults to True.
        gather_distributed (bool): All-gather rows across ranks before
            enqueueing. Defaults to True.
        init_cfg (dict, optional): Unused; kept for mmengine's interface.
    """

    def __init__(self,
                 size: int,
                 feat_dim: int,
                 block_size: Union[int, str, None] = 'auto',
                 track_labels: bool = True,
                 gather_distributed: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for key, value in (('size', size), ('feat_dim', feat_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f'SupportSetQueue: {key} must be a positive int, '
                    f'got {value!r}')
        if block_size not in (None, 'auto') and (
                not isinstance(block_size, int) or isinstance(block_size, bool)
                or block_size < 1):
            raise ValueError('SupportSetQueue: block_size must be None, '
                             f"'auto' or a positive int, got {block_size!r}")
        for key, value in (('track_labels', track_labels),
                           ('gather_distributed', gather_distributed)):
            if not isinstance(value, bool):
                raise ValueError(f'SupportSetQueue: {key} must be a bool, '
                                 f'got {key}={value!r}')
        self.size = size
        self.feat_dim = feat_dim
        self.block_size = block_size
        self.track_labels = track_labels
        self.gather_distributed = gather_distributed
        self.register_buffer('queue', torch.zeros(size, feat_dim))
        self.register_buffer('ptr', torch.zeros((), dtype=torch.long))
        self.register_buffer('num_filled', torch.zeros((), dtype=torch.long))
        self.register_buffer('labels',
                             torch.full((size, ), -1, dtype=torch.long))
        # Run-time state, not checkpointed: rows waiting for flush(), who
        # calls flush(), and whether lookups are switched on (warm-up).
        self._pending: List[torch.Tensor] = []
        self._pending_labels: List[Optional[torch.Tensor]] = []
        self.manager: Optional[str] = None
        self.use_neighbors = True
        self.stats: dict = {}

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

    @property
    def fill_ratio(self) -> float:
        return self.filled / self.size

    def _check_dim(self, feats: torch.Tensor, what: str) -> None:
        if feats.dim() != 2 or feats.shape[1] != self.feat_dim:
            raise ValueError(
                f'SupportSetQueue: {what} has shape {tuple(feats.shape)}, '
                f'expected (N, {self.feat_dim}); the queue\'s feat_dim '
                f'({self.feat_dim}) must equal the projection (neck) '
                'out_channels')

    # ------------------------------------------------------------ write
    @torch.no_grad()
    def enqueue(self,
                feats: torch.Tensor,
                labels: Optional[torch.Tensor] = None) -> None:
        """Normalise, gather across ranks and write rows FIFO.

        Args:
            feats (Tensor): ``(N, feat_dim)`` rows of this rank.
            labels (Tensor, optional): ``(N,)`` ground-truth labels, stored
                for diagnostics only. Every rank must pass them or none.
        """
        self._check_dim(feats, 'enqueue(feats)')
        feats = F.normalize(feats.detach().float(), dim=1)
        if labels is None:
            labels = torch.full((feats.shape[0], ), -1, dtype=torch.long,
                                device=feats.device)
        if self.gather_distributed:
            feats = gather_no_grad(feats)
            labels = gather_no_grad(labels.to(feats.device))
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
            self.labels[rows] = labels.to(self.labels.device).long()
        self.ptr.fill_((ptr + n) % self.size)
        self.num_filled.fill_(min(self.filled + n, self.size))

    def stash(self,
              feats: torch.Tensor,
              labels: Optional[torch.Tensor] = None,
              first_only: bool = False) -> None:
        """Keep rows of the current step for the next :meth:`flush`.

        Args:
            feats (Tensor): ``(N, feat_dim)`` rows.
            labels (Tensor, optional): ``(N,)`` labels for diagnostics.
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
        self._pending.append(feats.detach())
        self._pending_labels.append(
            None if labels is None else labels.detach())

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def flush(self) -> None:
        """Enqueue every stashed row (in stash order) and clear the stash."""
        if not self._pending:
            return
        feats = torch.cat(self._pending, dim=0)
        if any(lb is None for lb in self._pending_labels):
            labels = None
        else:
            labels = torch.cat(self._pending_labels, dim=0)
        self._pending.clear()
        self._pending_labels.clear()
        self.enqueue(feats, labels)

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
        block = (auto_block_size(query, k) if self.block_size == 'auto' else
                 self.block_size)
        best_sims, best_idx = topk_inner_product(query, bank, k, block)
        return Neighbors(bank[best_idx], best_idx, best_sims)

    # ------------------------------------------------------ diagnostics
    @torch.no_grad()
    def record_lookup(self,
                      nbrs: Neighbors,
                      labels: Optional[torch.Tensor] = None) -> None:
        """Remember the quality of a lookup for :meth:`pop_stats`.

        Args:
            nbrs (Neighbors): What :meth:`nearest` returned.
            labels (Tensor, optional): ``(B,)`` labels of the queries; with
                them the share of top-1 neighbours of the same class is
                recorded (NNCLR's "NN accuracy"; never used by a loss).
        """
        self.stats.setdefault('nn_similarity', []).append(
            float(nbrs.sims[:, 0].mean()))
        if labels is None or not self.track_labels:
            return
        nn_labels = self.labels[nbrs.indices[:, 0]]
        known = nn_labels >= 0
        if bool(known.any()):
            agree = nn_labels[known] == labels.to(nn_labels.device)[known]
            self.stats.setdefault('nn_label_agreement', []).append(
                float(agree.float().mean()))

    def pop_stats(self) -> dict:
        """Mean of each recorded diagnostic since the last call; resets."""
        out = {k: sum(v) / len(v) for k, v in self.stats.items() if v}
        self.stats = {}
        return out

    def extra_repr(self) -> str:
        return (f'size={self.size}, feat_dim={self.feat_dim}, '
                f'block_size={self.block_size}')
