"""Evaluate a checkpoint with any mmengine config (mmpretrain, mmdet, ...)."""
import argparse

from mmengine.runner import Runner

import nnclr_plugin  # noqa: F401  (registers components, safe checkpoint load)
from nnclr_plugin.utils.cli import (add_runner_args, finalize_for_launcher,
                                    load_runner_config)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='dump the raw predictions to this pickle file')
    parser.add_argument(
        '--amp', action='store_true', help='test with mixed precision')
    add_runner_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_runner_config(args)
    cfg.load_from = args.checkpoint
    if args.amp:
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, fp16=True)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must end with .pkl, got {args.out!r}')
        cfg.test_evaluator = [
            *(cfg.test_evaluator if isinstance(cfg.test_evaluator, list)
              else [cfg.test_evaluator]),
            dict(type='DumpResults', out_file_path=args.out),
        ]
    runner = Runner.from_cfg(finalize_for_launcher(cfg))
    runner.test()


if __name__ == '__main__':
    main()
