"""What one training step does with a support set."""
from typing import Dict, List, Optional, Tuple

import torch

from .neighbors import Neighbors, label_agreement

# Per-row metadata kept for diagnostics: the ground-truth label and the
# dataset index of the sample whose projection the row holds.
META = ('labels', 'sample_idx')
HOOK_HINT = ("add custom_hooks = [dict(type='SupportSetQueueHook')] to the "
             'config, or call queue.step.begin_step() before and '
             'queue.step.end_step() after each optimisation step yourself')


def complete_meta(meta: Dict[str, Optional[torch.Tensor]], num_rows: int,
                  device) -> Dict[str, torch.Tensor]:
    """Every field of :data:`META` as a long tensor on ``device``; -1 for
    the fields not given."""
    return {
        name: meta[name].to(device).long() if meta.get(name) is not None
        else torch.full((num_rows, ), -1, dtype=torch.long, device=device)
        for name in META
    }


class SupportSetStep:
    """The per-step protocol between a support set, its heads and its hook.

    :class:`SupportSetQueueHook` calls :meth:`begin_step` before each
    training iteration and :meth:`end_step` after the optimiser step.
    In between, a head calls :meth:`lookup` (None while there is nothing
    to use: it then falls back to the view itself), :meth:`stash` es the
    rows to enqueue and :meth:`record` s diagnostics. :meth:`end_step`
    enqueues the stashed rows, so lookups never see the current batch, and
    returns the step's diagnostics for the log. Nothing here is
    checkpointed: a step starts and ends within one iteration.

    Args:
        queue (SupportSetQueue): The support set it reads and fills.
    """

    def __init__(self, queue) -> None:
        self.queue = queue
        self.is_open = False
        self.use_neighbors = True
        self._meta: Dict[str, Optional[torch.Tensor]] = dict.fromkeys(META)
        self._pending: List[Tuple[torch.Tensor, Dict]] = []
        self._stats: Dict[str, List[float]] = {}

    # ------------------------------------------------------- the hook's
    def begin_step(self,
                   meta: Optional[Dict[str, Optional[torch.Tensor]]] = None,
                   use_neighbors: bool = True) -> None:
        """Open a training step.

        Args:
            meta (dict, optional): This rank's batch ``labels`` and
                ``sample_idx``, ``(B,)`` each or None. Rows looked up or
                stashed with as many rows as the batch (or a multiple:
                views stacked) are matched to them in order; others get -1.
            use_neighbors (bool): False during the hook's warm-up: lookups
                return None, the queue is only filled. Defaults to True.
        """
        meta = meta or {}
        self._meta = {name: meta.get(name) for name in META}
        self.use_neighbors = use_neighbors
        self._pending = []
        self._stats = {}
        self.is_open = True

    def end_step(self) -> Dict[str, float]:
        """Enqueue the stashed rows (in stash order) and close the step.

        Returns:
            dict: The mean of each diagnostic recorded during the step.
        """
        if self._pending:
            feats = torch.cat([f for f, _ in self._pending], dim=0)
            meta = {name: torch.cat([m[name] for _, m in self._pending])
                    for name in META}
            self.queue.enqueue(feats, **meta)
        stats = {k: sum(v) / len(v) for k, v in self._stats.items() if v}
        self._pending = []
        self._stats = {}
        self.is_open = False
        return stats

    # ------------------------------------------------------ the heads'
    def lookup(self, query: torch.Tensor, k: int) -> Optional[Neighbors]:
        """:meth:`SupportSetQueue.nearest` for training, or None when
        there is nothing to use: ``k == 0``, an empty queue, or lookups
        switched off (warm-up). Records the lookup's diagnostics."""
        queue = self.queue
        if k == 0 or queue.is_empty or not self.use_neighbors:
            return None
        nbrs = queue.nearest(query, k)
        self.record('nn_similarity', float(nbrs.sims[:, 0].mean()))
        labels = self.labels_of(nbrs)
        if labels is not None:
            agreement = label_agreement(labels[0], labels[1][:, :1])
            if agreement is not None:
                self.record('nn_label_agreement', agreement)
        return nbrs

    def stash(self, feats: torch.Tensor, first_only: bool = False) -> None:
        """Keep rows of this step for :meth:`end_step` to enqueue.

        Args:
            feats (Tensor): ``(N, feat_dim)`` rows, in batch order.
            first_only (bool): Ignore the rows if some are already waiting,
                i.e. keep only the first stash of each step.

        Raises:
            RuntimeError: If no step is open (no hook manages the queue).
        """
        if not self.is_open:
            raise RuntimeError(
                'SupportSetQueue: rows were produced during training but no '
                f'SupportSetQueueHook manages this queue; {HOOK_HINT}')
        self.queue.check_dim(feats, 'stash(feats)')
        if first_only and self._pending:
            return
        self._pending.append(
            (feats.detach(), self.meta_for(feats.shape[0], feats.device)))

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def record(self, name: str, value: float) -> None:
        """Add a value to this step's diagnostic ``name`` (logged as
        ``support_set/<name>``, averaged over the step)."""
        self._stats.setdefault(name, []).append(float(value))

    def meta_for(self, num_rows: int, device) -> Dict[str, torch.Tensor]:
        """The batch's metadata for ``num_rows`` rows (views repeat it)."""
        return complete_meta({
            name: values.repeat(num_rows // len(values))
            for name, values in self._meta.items()
            if values is not None and len(values)
            and num_rows % len(values) == 0
        }, num_rows, device)

    def labels_of(self, nbrs: Neighbors
                  ) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
        """``(B,)`` labels of this step's queries and ``(B, k)`` stored
        labels of their neighbours; -1 where unknown. None when the queue
        does not track labels."""
        if not self.queue.track_labels:
            return None
        num_queries = nbrs.indices.shape[0]
        labels = self.queue.labels
        return (self.meta_for(num_queries, labels.device)['labels'],
                labels[nbrs.indices])
