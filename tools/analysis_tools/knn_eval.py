"""Weighted kNN accuracy of a checkpoint's frozen backbone features.

The model comes from any mmpretrain model config (a self-supervised
pretrain config or a classifier config); the data from a separate
single-view data config whose ``train_dataloader`` is the kNN memory bank
and whose ``val_dataloader`` holds the queries. Example::

    python tools/analysis_tools/knn_eval.py \\
        configs/demo/simclr_resnet18-c32_1xb128-coslr-300it_fashion-mnist.py \\
        work_dirs/simclr/iter_300.pth --out knn.json
"""
import argparse
import copy
import json
import os.path as osp
import re
import time
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model)
from mmengine.utils import mkdir_or_exist
from torch import nn
from torch.utils.data import DataLoader

import nnclr_plugin  # noqa: F401  (registers components, safe checkpoint load)
from nnclr_plugin.utils import build_model_from_config, resolve_config_path
from nnclr_plugin.evaluation import extract_backbone_features, knn_accuracy

REPO_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
DEFAULT_DATA_CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                               'fashion_mnist_eval.py')
# Same as mmengine's load_checkpoint: checkpoints saved from a DDP wrapper.
_STRIP_DDP = (r'^module\.', '')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='Weighted kNN evaluation (Wu et al. 2018) of the '
        'backbone features of a checkpoint')
    parser.add_argument('config', help='mmpretrain model config file')
    parser.add_argument(
        'checkpoint',
        help='Runner checkpoint (keys "backbone.*") or backbone-only state '
        'dict (keys without the "backbone." prefix)')
    parser.add_argument(
        '--data-config',
        default=DEFAULT_DATA_CONFIG,
        help='config whose train_dataloader is the memory bank and whose '
        'val_dataloader holds the queries (default: %(default)s)')
    parser.add_argument(
        '--data-root',
        help='dataset folder, set as train/val_dataloader.dataset.data_root')
    parser.add_argument('--k', type=int, default=200, help='neighbours')
    parser.add_argument(
        '--temperature', type=float, default=0.07, help='vote temperature')
    parser.add_argument(
        '--batch-size', type=int, default=256,
        help='feature-extraction batch size')
    parser.add_argument(
        '--max-train', type=int, help='use only the first N train images')
    parser.add_argument(
        '--max-test', type=int, help='use only the first N test images')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device for the model and the kNN (default: %(default)s)')
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the data config, e.g. '
        'val_dataloader.num_workers=0')
    return parser.parse_args(argv)


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
    checkpoint = _load_checkpoint(filename, map_location='cpu')
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


def build_knn_dataloaders(
        args: argparse.Namespace) -> Tuple[DataLoader, DataLoader]:
    """The memory-bank and query dataloaders from ``args.data_config``."""
    data_cfg = Config.fromfile(resolve_config_path(args.data_config))
    if args.cfg_options:
        data_cfg.merge_from_dict(args.cfg_options)
    loaders = []
    for name, flag, max_samples in (
            ('train_dataloader', '--max-train', args.max_train),
            ('val_dataloader', '--max-test', args.max_test)):
        loader_cfg = copy.deepcopy(data_cfg[name])
        loader_cfg.batch_size = args.batch_size
        # Deterministic order: the subset and the JSON must not depend on
        # a sampler seed.
        loader_cfg.sampler = dict(loader_cfg.sampler, shuffle=False)
        if args.data_root is not None:
            loader_cfg.dataset.data_root = args.data_root
        if max_samples is not None:
            if max_samples < 1:
                raise ValueError(f'{flag} must be >= 1, got {max_samples}')
            # BaseDataset's int `indices` keeps the first N samples, before
            # the pipeline runs; the rest is never decoded.
            loader_cfg.dataset.indices = max_samples
        loaders.append(Runner.build_dataloader(loader_cfg))
    return tuple(loaders)


def main(argv: Optional[List[str]] = None) -> Dict:
    """Evaluate a checkpoint; returns what ``--out`` receives.

    Args:
        argv (List[str], optional): Command-line arguments without the
            program name. Defaults to ``sys.argv[1:]``.

    Returns:
        dict: ``top1``, ``top5`` (percent), ``k`` (the number of neighbours
        used, i.e. after clipping to the memory bank), ``temperature``,
        ``num_train``, ``num_test``, ``checkpoint``, ``config`` and
        ``missing_backbone_keys``.
    """
    args = parse_args(argv)
    start = time.time()
    _, model = build_model_from_config(args.config)
    missing = load_backbone_checkpoint(model, args.checkpoint)
    model.to(args.device)

    train_loader, test_loader = build_knn_dataloaders(args)
    train_feats, train_labels = extract_backbone_features(model, train_loader)
    test_feats, test_labels = extract_backbone_features(model, test_loader)
    num_classes = None
    meta = getattr(train_loader.dataset, 'metainfo', {}) or {}
    if meta.get('classes'):
        # From the dataset, not the labels: a small subset may lack the
        # highest classes.
        num_classes = len(meta['classes'])
    k = min(args.k, len(train_labels))
    if k < args.k:
        print(f'Note: k={args.k} clipped to the {k} memory-bank samples')
    acc = knn_accuracy(
        train_feats.to(args.device),
        train_labels.to(args.device),
        test_feats.to(args.device),
        test_labels.to(args.device),
        num_classes=num_classes,
        k=k,
        temperature=args.temperature,
        topk=(1, 5))

    results = dict(
        acc,
        k=k,
        temperature=args.temperature,
        num_train=len(train_labels),
        num_test=len(test_labels),
        checkpoint=args.checkpoint,
        config=args.config,
        missing_backbone_keys=missing)
    accs = '  '.join(f'top-{name[3:]}: {value:.2f}'
                     for name, value in acc.items())
    print(f'kNN (k={k}, T={args.temperature:g}) {accs}  '
          f'(train {len(train_labels)}, test {len(test_labels)})')
    print(f'Finished in {time.time() - start:.1f} s')
    if args.out:
        mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
