"""Train a small demo config and dump losses and state (run by the DDP test).

Run under ``torch.distributed.run`` with ``--launcher pytorch`` for several
processes, or plainly for the single-process reference.
"""
import argparse
import json
import os

import torch
from helpers import (
    DETERMINISTIC_VIEWS,
    group_norm_everywhere,
    loss_history,
    small_train_cfg,
    smooth_activations,
    state_of,
)
from mmengine.dist import get_rank
from mmengine.runner import Runner

from nnclr_plugin.utils import prepare_cpu_distributed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--out-prefix', required=True)
    parser.add_argument('--indices', required=True, help='JSON list')
    parser.add_argument('--batch-size', type=int, required=True)
    parser.add_argument('--max-iters', type=int, required=True)
    parser.add_argument('--queue-size', type=int, default=64)
    parser.add_argument('--warmup-iters', type=int, default=1)
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--launcher', default='none')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', '0')

    cfg = small_train_cfg(
        args.config,
        args.work_dir,
        max_iters=args.max_iters,
        batch_size=args.batch_size,
        num_images=json.loads(args.indices),
        queue_size=args.queue_size,
        data_root=args.data_root)
    cfg.randomness.seed = args.seed
    cfg.train_dataloader.dataset.pipeline = DETERMINISTIC_VIEWS
    cfg.train_dataloader.sampler.shuffle = False
    group_norm_everywhere(cfg)
    if cfg.get('custom_hooks'):
        cfg.custom_hooks = [
            dict(type='SupportSetQueueHook', warmup_iters=args.warmup_iters)
        ]
    cfg.launcher = args.launcher
    prepare_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    smooth_activations(runner.model)
    runner.train()
    torch.save({
        'losses': loss_history(runner),
        'state': state_of(runner)
    }, f'{args.out_prefix}{get_rank()}.pt')


if __name__ == '__main__':
    main()
