"""Linear probe of a checkpoint's frozen backbone features.

The transfer protocol of SimCLR and NNCLR: an L2-regularised multinomial
logistic regression on frozen, standardised backbone features, its penalty
chosen on a held-out part of the training split, refitted on the whole
split and scored on the test split. Model from any mmpretrain model config,
data from a single-view data config (``train_dataloader`` = probe training
set, ``val_dataloader`` = test set), so it runs on any mmpretrain dataset.
Example::

    python tools/analysis_tools/linear_probe.py \\
      configs/bench/nnclr_resnet18-c16_1xb256-coslr-1000it_fashion-mnist.py \\
        work_dirs/bench/nnclr_default_1000it_seed0/iter_1000.pth \\
        --data-config configs/_base_/datasets/fashion_mnist_eval.py \\
        --cfg-options train_dataloader.dataset.pipeline.0.scale=28 \\
        val_dataloader.dataset.pipeline.0.scale=28 --out probe.json
"""
# First: registers the components, allow-lists checkpoint globals and
# mutes mmengine's import-time pkg_resources warning.
import nnclr_plugin  # noqa: F401,I001

import argparse
import os.path as osp
import time
from typing import Dict, List, Optional

from nnclr_plugin.evaluation import frozen_features, linear_probe, write_json
from nnclr_plugin.evaluation.linear_probe import DEFAULT_WEIGHT_DECAYS
from nnclr_plugin.utils.cli import add_frozen_eval_args
from nnclr_plugin.utils.user_errors import run_cli

REPO_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
DEFAULT_DATA_CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                               'fashion_mnist_eval.py')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='Linear probe (L2 logistic regression, penalty '
        'validated on held-out train) of frozen backbone features')
    add_frozen_eval_args(parser, DEFAULT_DATA_CONFIG)
    parser.add_argument(
        '--weight-decays', type=float, nargs='+',
        default=list(DEFAULT_WEIGHT_DECAYS),
        help='candidate L2 penalties (default: %(default)s)')
    parser.add_argument('--val-fraction', type=float, default=0.1,
                        help='held-out share of train for the penalty')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the held-out split')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict:
    """Probe a checkpoint; returns what ``--out`` receives."""
    args = parse_args(argv)
    start = time.time()
    feats = frozen_features(args)
    train, test = feats.train, feats.test
    probe = linear_probe(*train, *test, weight_decays=args.weight_decays,
                         val_fraction=args.val_fraction,
                         num_classes=feats.num_classes, seed=args.seed)
    results = dict(
        probe,
        num_train=len(train[1]),
        num_test=len(test[1]),
        feat_dim=train[0].shape[1],
        checkpoint=args.checkpoint,
        config=args.config,
        missing_backbone_keys=feats.missing_backbone_keys)
    print(f'Linear probe top-1: {probe["top1"]:.2f} (weight decay '
          f'{probe["weight_decay"]:g}, held-out top-1 '
          f'{probe["val_top1"]:.2f}; train {results["num_train"]}, test '
          f'{results["num_test"]}, {results["feat_dim"]}-d)')
    print(f'Finished in {time.time() - start:.1f} s')
    write_json(args.out, results)
    return results


if __name__ == '__main__':
    run_cli(main)
