"""Reading the ground truth of mmpretrain data samples."""
from typing import Optional

import torch


def sample_label(sample) -> Optional[int]:
    """The single class label of a data sample, None when it has none.

    Used by the kNN / probe feature loop and by the support-set hook's
    label bookkeeping, so that both read labels the same way.

    Args:
        sample: A ``DataSample`` (anything ``'gt_label' in sample`` and
            ``sample.gt_label`` work on).

    Returns:
        int or None: The label, or None without ``gt_label``.

    Raises:
        ValueError: For multi-label samples (several indices or a one-hot
            vector), which have no single class.
    """
    if 'gt_label' not in sample:
        return None
    label = torch.as_tensor(sample.gt_label).flatten()
    if label.numel() != 1:
        raise ValueError('expected one class label per image, got gt_label='
                         f'{label.tolist()}')
    return int(label.item())
