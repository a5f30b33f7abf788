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
import time
from typing import Dict, List, Optional

from nnclr_plugin.evaluation import frozen_features, knn_accuracy, write_json
from nnclr_plugin.utils.cli import add_frozen_eval_args


def parse_args(argv: Optional[List[str]] = None,
               default_data_config: Optional[str] = None
               ) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``;
    ``default_data_config`` None makes ``--data-config`` required)."""
    parser = argparse.ArgumentParser(
        description='Weighted kNN evaluation (Wu et al. 2018) of the '
        'backbone features of a checkpoint')
    add_frozen_eval_args(parser, default_data_config)
    parser.add_argument('--k', type=int, default=200, help='neighbours')
    parser.add_argument(
        '--temperature', type=float, default=0.07, help='vote temperature')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None,
         default_data_config: Optional[str] = None) -> Dict:
    """Evaluate a checkpoint; returns what ``--out`` receives.

    Args:
        argv (List[str], optional): Command-line arguments without the
            program name. Defaults to ``sys.argv[1:]``.
        default_data_config (str, optional): ``--data-config`` when the
            command line has none (``tools/analysis_tools/knn_eval.py``
            passes the repository's Fashion-MNIST one). Defaults to None:
            the option is required.

    Returns:
        dict: ``top1``, ``top5`` (percent), ``k`` (the number of neighbours
        used, i.e. after clipping to the memory bank), ``temperature``,
        ``num_train``, ``num_test``, ``checkpoint``, ``config`` and
        ``missing_backbone_keys``.
    """
    args = parse_args(argv, default_data_config)
    start = time.time()
    feats = frozen_features(args)
    train_feats, train_labels = feats.train
    test_feats, test_labels = feats.test
    k = min(args.k, len(train_labels))
    if k < args.k:
        print(f'Note: k={args.k} clipped to the {k} memory-bank samples')
    acc = knn_accuracy(
        train_feats.to(args.device),
        train_labels.to(args.device),
        test_feats.to(args.device),
        test_labels.to(args.device),
        num_classes=feats.num_classes,
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
        missing_backbone_keys=feats.missing_backbone_keys)
    accs = '  '.join(f'top-{name[3:]}: {value:.2f}'
                     for name, value in acc.items())
    print(f'kNN (k={k}, T={args.temperature:g}) {accs}  '
          f'(train {len(train_labels)}, test {len(test_labels)})')
    print(f'Finished in {time.time() - start:.1f} s')
    write_json(args.out, results)
    return results

