"""Argument checks shared by the support-set heads."""
from ..memories import SupportSetQueue

ENQUEUE_MODES = ('first', 'all')


def check_support_set_args(owner: str, k: int, k_min: int,
                           queue: SupportSetQueue, enqueue: str) -> None:
    """Raise a ``ValueError`` naming the bad key of a support-set head.

    Args:
        owner (str): Class name of the head, for the message.
        k (int): Neighbours per query; must lie in ``[k_min, queue.size]``.
        k_min (int): 1 when the head needs a neighbour, 0 when ``k=0``
            switches neighbours off.
        queue (SupportSetQueue): The head's queue.
        enqueue (str): One of :data:`ENQUEUE_MODES`.
    """
    if not isinstance(k, int) or not k_min <= k <= queue.size:
        raise ValueError(f'{owner}: k={k!r} must be an int in [{k_min}, '
                         f'queue.size={queue.size}]')
    if enqueue not in ENQUEUE_MODES:
        raise ValueError(f'{owner}: enqueue must be one of {ENQUEUE_MODES}, '
                         f'got {enqueue!r}')


def check_bool(owner: str, **flags) -> None:
    """Raise unless every flag is a real bool.

    A config value such as ``threshold=0.5`` or ``detach_weights='no'``
    would otherwise be tested for truthiness and silently mean ``True``.
    """
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise ValueError(f'{owner}: {key} must be a bool (True/False), '
                             f'got {key}={value!r}')
