# Settings shared by every quality-benchmark config (configs/bench/): a
# bench config takes an algorithm's model from _base_/models/fashion_mnist/
# (the demo's models) and this file's settings, so all methods get the same
# backbone, views, optimiser, budget and evaluation. Nothing here comes from
# configs/demo/: editing a demo cannot change the benchmark whose committed
# results (docs/results/quality/) describe these configs.
#
# Why this size: a quarter-width CIFAR ResNet-18 at the native 28 px trains
# about 3x faster per image than the demo's half-width one at 32 px, and
# the views are made on the whole batch in torch (BatchMultiViewPreprocessor)
# instead of per image in the data loader, which on 2 cores cost as much as
# the network. See docs/benchmarks.md for the budget and its kNN curve.
_base_ = './default_runtime.py'

bench_data_root = '{{$NNCLR_DATA_ROOT:data/fashion_mnist}}'
bench_iters = 1000
bench_warmup_iters = 100
bench_batch_size = 256

bench_model = dict(
    data_preprocessor=dict(
        type='BatchMultiViewPreprocessor',
        mean=[72.94],
        std=[90.02],
        num_views=2,
        crop_size=28,
        crop_scale=(0.2, 1.0),
        flip_prob=0.5,
        brightness=0.4,
        contrast=0.4,
        jitter_prob=0.8),
    backbone=dict(stem_channels=16, base_channels=16),
    neck=dict(in_channels=128))

# The loader only packs the raw 28x28 images; no worker processes, so the
# two cores go to the network.
bench_pipeline = [dict(type='PackInputs')]
bench_train_dataloader = dict(
    batch_size=bench_batch_size,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='LocalFashionMNIST',
        data_root=bench_data_root,
        split='train',
        pipeline=bench_pipeline))

bench_param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=False,
        begin=0,
        end=bench_warmup_iters),
    dict(
        type='CosineAnnealingLR',
        T_max=bench_iters - bench_warmup_iters,
        by_epoch=False,
        begin=bench_warmup_iters,
        end=bench_iters),
]
bench_train_cfg = dict(type='IterBasedTrainLoop', max_iters=bench_iters)

# SGD as the demos train (their schedule's optimiser), logged by iteration.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.5, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(
        custom_keys={
            'bn': dict(decay_mult=0.),
            'bias': dict(decay_mult=0.),
        }))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
bench_default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        type='SafeCheckpointHook',
        by_epoch=False,
        interval=bench_iters,
        max_keep_ckpts=1))


def _eval_loader(split):
    return dict(
        batch_size=1024,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='LocalFashionMNIST',
            data_root=bench_data_root,
            split=split,
            pipeline=[dict(type='PackInputs')]))


# kNN on 10k train / 5k test images every 125 iterations (the curve), on
# the full 60k / 10k and with a linear probe after the last iteration.
bench_knn_hook = dict(
    type='KNNEvalHook',
    train_dataloader=_eval_loader('train'),
    val_dataloader=_eval_loader('test'),
    interval=125,
    num_train=10000,
    num_val=5000,
    linear_probe=True)
