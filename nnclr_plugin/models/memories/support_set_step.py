"""What one training step does with a support set."""
from typing import Dict, List, Optional, Tuple

import torch

from .neighbors import Neighbors, label_agreement

# Per-row metadata kept for diagnostics: the ground-truth label and the
# dataset index of the sample whose projection the row holds.
META = ('labels', 'sample_idx')
HOOK_HINT = ("add custom_hooks = [dict(type='SupportSetQueueHook')] to the "
             'config, or call queue.begin_step() before and '
             'queue.end_step() after each optimisation step yourself')


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
    """The state of one training step of a support set: the batch's
    metadata, whether lookups are on, the rows waiting to be enqueued and
    the diagnostics recorded so far.

    :class:`SupportSetQueue` opens one in ``begin_step``, fills it while
    the heads look up and stash, and empties it in ``end_step``. It knows
    nothing of the queue. Nothing here is checkpointed: a step starts and
    ends within one iteration.

    Args:
        meta (dict, optional): This rank's batch ``labels`` and
            ``sample_idx``, ``(B,)`` each or None.
        use_neighbors (bool): False during the hook's warm-up.
    """

    def __init__(self,
                 meta: Optional[Dict[str, Optional[torch.Tensor]]] = None,
                 use_neighbors: bool = True) -> None:
        meta = meta or {}
        self.meta = {name: meta.get(name) for name in META}
        self.use_neighbors = use_neighbors
        self.pending: List[Tuple[torch.Tensor, Dict]] = []
        self.stats: Dict[str, List[float]] = {}

    def keep(self, feats: torch.Tensor, first_only: bool) -> None:
        """Keep rows to enqueue, with their metadata; with ``first_only``
        only if nothing is waiting yet."""
        if first_only and self.pending:
            return
        self.pending.append(
            (feats.detach(), self.meta_for(feats.shape[0], feats.device)))

    def record(self, name: str, value: float) -> None:
        """Add a value to diagnostic ``name`` (averaged over the step)."""
        self.stats.setdefault(name, []).append(float(value))

    def summary(self) -> Dict[str, float]:
        """The mean of each diagnostic recorded."""
        return {k: sum(v) / len(v) for k, v in self.stats.items() if v}

    def meta_for(self, num_rows: int, device) -> Dict[str, torch.Tensor]:
        """The batch's metadata for ``num_rows`` rows (views repeat it)."""
        return complete_meta({
            name: values.repeat(num_rows // len(values))
            for name, values in self.meta.items()
            if values is not None and len(values)
            and num_rows % len(values) == 0
        }, num_rows, device)


class TrainingStepMixin:
    """The training-step protocol of :class:`SupportSetQueue`.

    :class:`SupportSetQueueHook` calls :meth:`begin_step` before each
    iteration and :meth:`end_step` after the optimiser step; in between the
    heads call :meth:`lookup`, :meth:`stash` and :meth:`record`. Rows
    stashed during the step are enqueued when it ends, so lookups never see
    the current batch. Uses the queue's ``nearest``, ``enqueue``,
    ``check_dim``, ``is_empty``, ``track_labels`` and ``labels``.
    """

    _step: Optional[SupportSetStep]

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
        self._step = SupportSetStep(meta, use_neighbors)

    def end_step(self) -> Dict[str, float]:
        """Enqueue the rows stashed during the step (in stash order) and
        close it.

        Returns:
            dict: The mean of each diagnostic recorded during the step.
        """
        step, self._step = self._step, None
        if step is None:
            return {}
        if step.pending:
            feats = torch.cat([f for f, _ in step.pending], dim=0)
            self.enqueue(feats, **{
                name: torch.cat([m[name] for _, m in step.pending])
                for name in META})
        return step.summary()

    @property
    def has_pending(self) -> bool:
        """Whether the open step has rows to enqueue."""
        return self._step is not None and bool(self._step.pending)

    def lookup(self, query: torch.Tensor, k: int) -> Optional[Neighbors]:
        """:meth:`nearest` for a head, or None when there is nothing to
        use: ``k == 0``, an empty queue, or lookups off (warm-up). Records
        the lookup's diagnostics in the open step."""
        if k == 0 or self.is_empty or (self._step is not None
                                       and not self._step.use_neighbors):
            return None
        nbrs = self.nearest(query, k)
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
        if self._step is None:
            raise RuntimeError(
                'SupportSetQueue: rows were produced during training but no '
                f'SupportSetQueueHook manages this queue; {HOOK_HINT}')
        self.check_dim(feats, 'stash(feats)')
        self._step.keep(feats, first_only)

    def record(self, name: str, value: float) -> None:
        """Add a value to the open step's diagnostic ``name`` (logged as
        ``support_set/<name>``, averaged over the step); outside a step,
        nothing."""
        if self._step is not None:
            self._step.record(name, value)

    def labels_of(self, nbrs: Neighbors
                  ) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
        """``(B,)`` labels of the open step's queries and ``(B, k)``
        stored labels of their neighbours; -1 where unknown. None when the
        queue does not track labels."""
        if not self.track_labels:
            return None
        step = self._step or SupportSetStep()
        return (step.meta_for(nbrs.indices.shape[0],
                              self.labels.device)['labels'],
                self.labels[nbrs.indices])
