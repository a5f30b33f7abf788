"""Load a checkpoint's backbone and the data to probe it, for the tools.

Shared by ``tools/analysis_tools/knn_eval.py`` and ``linear_probe.py``.
"""
import argparse
import copy
import json
import os
import os.path as osp
import re
from typing import NamedTuple, Optional, Tuple

from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from torch import Tensor, nn
from torch.utils.data import DataLoader

from nnclr_plugin.utils.checkpoint_files import read_checkpoint
from nnclr_plugin.utils.config import (
    build_model_from_config,
    resolve_config_path,
)

from .features import extract_backbone_features

# Same as mmengine's load_checkpoint: checkpoints saved from a DDP wrapper.
_STRIP_DDP = (r'^module\.', '')


def load_backbone_checkpoint(model: nn.Module, filename: str) -> int:
    """Load ``filename`` into ``model`` non-strictly.

    A backbone-only state dict (as written by backbone-extraction tools) is
    recognised by its keys: none starts with ``backbone.`` but some are
    keys of ``model.backbone``; those get the ``backbone.`` prefix.

    Args:
        model (nn.Module): A model with a ``backbone`` attribute.
        filename (str): Anything mmengine's ``CheckpointLoader`` reads.

    Returns:
        int: How many of the backbone's tensors the checkpoint lacked
        (random-init weights remain there).
    """
    # mmengine's load_checkpoint in two halves, so the keys can be
    # inspected before choosing revise_keys without reading the file twice.
    checkpoint = read_checkpoint(filename, 'checkpoint')
    if not isinstance(checkpoint, dict):
        raise RuntimeError(f'No state_dict found in checkpoint {filename}')
    state_dict = checkpoint.get('state_dict', checkpoint)
    keys = [re.sub(*_STRIP_DDP, k) for k in state_dict]
    backbone_keys = {f'backbone.{k}' for k in model.backbone.state_dict()}
    revise_keys = [_STRIP_DDP]
    if not any(k.startswith('backbone.') for k in keys) and any(
            f'backbone.{k}' in backbone_keys for k in keys):
        print(f'{filename}: backbone-only state dict, adding the '
              '"backbone." prefix to its keys')
        revise_keys.append((r'^', 'backbone.'))
        keys = [f'backbone.{k}' for k in keys]
    _load_checkpoint_to_model(
        model, checkpoint, strict=False, logger='current',
        revise_keys=revise_keys)
    missing = sorted(backbone_keys.difference(keys))
    print(f'Loaded {filename}: {len(backbone_keys) - len(missing)}/'
          f'{len(backbone_keys)} backbone tensors, {len(missing)} missing'
          + (f' (e.g. {missing[:3]})' if missing else ''))
    return len(missing)


def build_eval_dataloaders(
        data_config: str,
        batch_size: int = 256,
        data_root: Optional[str] = None,
        max_train: Optional[int] = None,
        max_test: Optional[int] = None,
        cfg_options: Optional[dict] = None) -> Tuple[DataLoader, DataLoader]:
    """Memory/train and query/test dataloaders of a single-view data config.

    Args:
        data_config (str): Config (path or ``package::path``) whose
            ``train_dataloader`` and ``val_dataloader`` yield labelled
            single-view batches.
        batch_size (int): Feature-extraction batch size. Defaults to 256.
        data_root (str, optional): Overrides both datasets' ``data_root``.
        max_train (int, optional): Keep only the first N train images.
        max_test (int, optional): Keep only the first N test images.
        cfg_options (dict, optional): ``merge_from_dict`` overrides of the
            data config.

    Returns:
        Tuple[DataLoader, DataLoader]: Unshuffled train and test loaders.
    """
    data_cfg = Config.fromfile(resolve_config_path(data_config))
    if cfg_options:
        data_cfg.merge_from_dict(cfg_options)
    loaders = []
    for name, flag, max_samples in (
            ('train_dataloader', '--max-train', max_train),
            ('val_dataloader', '--max-test', max_test)):
        loader_cfg = copy.deepcopy(data_cfg[name])
        loader_cfg.batch_size = batch_size
        # Deterministic order: the subset and the JSON must not depend on
        # a sampler seed.
        loader_cfg.sampler = dict(loader_cfg.sampler, shuffle=False)
        if data_root is not None:
            loader_cfg.dataset.data_root = data_root
        if max_samples is not None:
            if max_samples < 1:
                raise ValueError(f'{flag} must be >= 1, got {max_samples}')
            # BaseDataset's int `indices` keeps the first N samples, before
            # the pipeline runs; the rest is never decoded.
            loader_cfg.dataset.indices = max_samples
        loaders.append(Runner.build_dataloader(loader_cfg))
    return tuple(loaders)


class FrozenFeatures(NamedTuple):
    """What the frozen-evaluation tools compute before their classifier."""
    train: Tuple[Tensor, Tensor]  # features (N, C), labels (N, )
    test: Tuple[Tensor, Tensor]
    num_classes: Optional[int]  # from the dataset's metainfo, if it has it
    missing_backbone_keys: int


def frozen_features(args: argparse.Namespace) -> FrozenFeatures:
    """Build the model, load the checkpoint, embed both splits.

    Args:
        args (argparse.Namespace): Parsed options of
            :func:`nnclr_plugin.utils.cli.add_frozen_eval_args`.
    """
    _, model = build_model_from_config(args.config)
    missing = load_backbone_checkpoint(model, args.checkpoint)
    model.to(args.device)
    train_loader, test_loader = build_eval_dataloaders(
        args.data_config, args.batch_size, args.data_root, args.max_train,
        args.max_test, args.cfg_options)
    meta = getattr(train_loader.dataset, 'metainfo', {}) or {}
    # From the dataset, not the labels: a small subset may lack the highest
    # classes.
    num_classes = len(meta['classes']) if meta.get('classes') else None
    return FrozenFeatures(
        extract_backbone_features(model, train_loader),
        extract_backbone_features(model, test_loader), num_classes, missing)


def write_json(path: Optional[str], results: dict) -> None:
    """Write a tool's results to ``path`` (creating folders); None: skip."""
    if not path:
        return
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(results, f, indent=2)
