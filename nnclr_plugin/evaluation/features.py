"""Frozen backbone features of an mmpretrain model, for kNN / linear probes."""
from typing import Iterable, Iterator, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate
from mmpretrain.models.utils import (
    ClsDataPreprocessor,
    SelfSupDataPreprocessor,
)
from torch import Tensor, nn

from nnclr_plugin.utils.samples import sample_label


def build_eval_preprocessor(preprocessor: nn.Module) -> nn.Module:
    """A data preprocessor that can handle a single-view evaluation batch.

    ``SelfSupDataPreprocessor`` is written for multi-view training batches:
    it treats any list in ``inputs`` as a list of views. A single-view
    pipeline collated with mmengine's default ``pseudo_collate`` also gives a
    list (one tensor per image), which it would "normalise" image by image
    and return unstacked, so the backbone would get a list of 3-D tensors.
    A ``ClsDataPreprocessor`` with the same statistics normalises and stacks
    both collate formats identically, so it replaces the self-supervised one.

    Args:
        preprocessor (nn.Module): The model's own ``data_preprocessor``.

    Returns:
        nn.Module: ``preprocessor`` itself, or an equivalent
        ``ClsDataPreprocessor`` on the same device.
    """
    if not isinstance(preprocessor, SelfSupDataPreprocessor):
        return preprocessor
    mean = std = None
    if preprocessor._enable_normalize:
        # ``TwoNormDataPreprocessor`` (CAE, BEiT) keeps the statistics of
        # the images the backbone sees in ``mean``/``std`` as well.
        mean = preprocessor.mean.flatten().tolist()
        std = preprocessor.std.flatten().tolist()
    # SelfSupDataPreprocessor never pads, hence no pad_size_divisor here.
    # Its channel flip is unconditional; ClsDataPreprocessor's flips only
    # 3-channel inputs, the only ones for which the flip is defined.
    replacement = ClsDataPreprocessor(
        mean=mean, std=std, to_rgb=preprocessor._channel_conversion)
    return replacement.to(preprocessor.device)


def _pick_feature(output: Union[Tensor, Sequence]) -> Tensor:
    """Reduce a backbone output to one ``(N, C)`` feature per image.

    Args:
        output (Tensor | Sequence): What ``backbone(inputs)`` returned;
            mmpretrain backbones return a tuple with one entry per
            ``out_indices``, the last being the deepest stage.

    Returns:
        Tensor: Features of shape ``(N, C)``.
    """
    if isinstance(output, (tuple, list)):
        if len(output) == 0:
            raise ValueError('The backbone returned an empty tuple; check '
                             'its out_indices')
        output = output[-1]
    if isinstance(output, (tuple, list)):
        # Older ViT-style outputs per stage: [cls_token] or
        # (patch_token, cls_token); the 2-D entry is the image embedding.
        flat = [t for t in output if isinstance(t, Tensor) and t.dim() == 2]
        if not flat:
            shapes = [tuple(t.shape) if isinstance(t, Tensor) else type(t)
                      for t in output]
            raise ValueError(
                'Cannot find a 2-D (N, C) tensor in the last backbone output '
                f'(shapes {shapes})')
        output = flat[-1]
    if not isinstance(output, Tensor):
        raise ValueError(
            f'Expected the backbone to output tensors, got {type(output)}')
    if output.dim() == 4:
        # Global average pooling, as the classification necks do.
        return output.mean(dim=(2, 3))
    if output.dim() == 2:
        return output
    raise ValueError(
        f'Unsupported backbone output shape {tuple(output.shape)}: expected '
        '(N, C) or (N, C, H, W). For ViTs set out_type to "cls_token", '
        '"featmap" or "avg_featmap" instead of "raw".')


def _label_or_missing(sample) -> int:
    """The sample's class label, -1 when it has none."""
    label = sample_label(sample)
    return -1 if label is None else label


def projections(model: nn.Module, inputs: Tensor) -> Tensor:
    """L2-normalised projections (backbone + neck), the space of the
    support set; without a neck, pooled last backbone features."""
    out = model.backbone(inputs)
    if getattr(model, 'neck', None) is not None:
        out = model.neck(out)
    return F.normalize(_pick_feature(out).float(), dim=1)


@torch.no_grad()
def extract_features(model: nn.Module,
                     dataloader: Iterable[dict],
                     max_samples: Optional[int] = None,
                     projection: bool = False) -> Tuple[Tensor, Tensor]:
    """Run the model over a dataloader and collect one feature per image.

    The one feature loop of the package: kNN, the linear probe, the kNN
    hook and the neighbour grid all use it. Works for mmpretrain
    self-supervised algorithms (``BaseSelfSupervisor`` subclasses) and for
    ``ImageClassifier`` models; the dataloader must yield single-view
    batches (``PackInputs`` without ``MultiView``). The model is put in
    eval mode (BN uses its running statistics) and its previous mode
    restored afterwards.

    Args:
        model (nn.Module): A model with ``data_preprocessor`` and
            ``backbone`` (and ``neck`` for projections).
        dataloader (Iterable[dict]): An mmengine dataloader, with either
            ``pseudo_collate`` or ``default_collate``.
        max_samples (int, optional): Stop after this many images. None
            means the whole dataloader. Defaults to None.
        projection (bool): Return unit-norm projections (:func:`projections`)
            instead of backbone features. Defaults to False.

    Returns:
        Tuple[Tensor, Tensor]: Features of shape ``(N, C)`` (float32, on the
        CPU so that large memory banks do not fill an accelerator) and
        labels of shape ``(N, )`` (int64, -1 where a sample has none).
    """
    if max_samples is not None and max_samples < 0:
        raise ValueError(
            f'max_samples must be >= 0 or None, got max_samples={max_samples}')
    preprocessor = build_eval_preprocessor(model.data_preprocessor)
    was_training = model.training
    model.eval()
    feats, labels = [], []
    num_seen = 0
    try:
        for data in dataloader:
            if max_samples is not None and num_seen >= max_samples:
                break
            samples = data['data_samples']
            inputs = preprocessor(data, False)['inputs']
            if not isinstance(inputs, Tensor):
                raise ValueError(
                    'The data preprocessor returned a list of inputs; '
                    'feature extraction expects a single-view pipeline '
                    '(no MultiView).')
            batch_feats = projections(model, inputs) if projection else \
                _pick_feature(model.backbone(inputs))
            batch_labels = [_label_or_missing(s) for s in samples]
            if max_samples is not None:
                keep = max_samples - num_seen
                batch_feats = batch_feats[:keep]
                batch_labels = batch_labels[:keep]
            feats.append(batch_feats.float().cpu())
            labels.append(torch.tensor(batch_labels, dtype=torch.long))
            num_seen += len(batch_labels)
    finally:
        model.train(was_training)
    if not feats:
        return torch.zeros(0, 0), torch.zeros(0, dtype=torch.long)
    return torch.cat(feats), torch.cat(labels)


def extract_backbone_features(
        model: nn.Module,
        dataloader: Iterable[dict],
        max_samples: Optional[int] = None) -> Tuple[Tensor, Tensor]:
    """Backbone features of every image (see :func:`extract_features`)."""
    return extract_features(model, dataloader, max_samples)


def iter_batches(dataset: Sequence,
                 indices: Sequence[int],
                 batch_size: int = 256) -> Iterator[dict]:
    """Batches of ``dataset[i]`` for ``i`` in ``indices``, in that order.

    A plain generator instead of a ``DataLoader``: the order must be exactly
    ``indices`` (rows of a figure), and the images are few, so worker
    processes would cost more than they save.
    """
    indices = list(indices)
    for start in range(0, len(indices), batch_size):
        yield pseudo_collate(
            [dataset[i] for i in indices[start:start + batch_size]])
