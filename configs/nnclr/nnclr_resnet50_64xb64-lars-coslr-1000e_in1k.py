# NNCLR, ResNet-50 on ImageNet-1k: the recipe of Dwibedi et al. (ICCV 2021).
#
# Global batch 4096 (64 GPUs x 64), support set of 98,304 projections
# (256-d), InfoNCE temperature 0.1, LARS with lr 0.3 x 4096 / 256 = 4.8,
# weight decay 1e-6, 10 linear warm-up epochs then cosine decay to 0 over
# the remaining 990 of 1000 epochs, BYOL's asymmetric augmentations.
# The shorter-schedule / fewer-GPU variants in this folder inherit from here.
_base_ = [
    # BYOL augmentations: view 1 always blurred and never solarised, view 2
    # blurred with p=0.1 and solarised with p=0.2 (NNCLR uses these).
    'mmpretrain::_base_/datasets/imagenet_bs32_byol.py',
    'mmpretrain::_base_/schedules/imagenet_lars_coslr_200e.py',
    '../_base_/default_runtime.py',
    '../_base_/models/nnclr_head.py',
]

# 64 GPUs x 64 images = 4096 per step.
train_dataloader = dict(
    batch_size=64,
    num_workers=8)

# model settings
model = dict(
    type='NNCLR',
    backbone=dict(
        type='ResNet',
        depth=50,
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=True),
    # Projection MLP: 3 fc layers 2048-2048-256, BN after every fc (the last
    # included), ReLU after all but the last.
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=256,
        num_layers=3,
        with_bias=False,
        with_last_bn=True,
        with_avg_pool=True,
        norm_cfg=dict(type='SyncBN')),
    head={{_base_.nnclr_head}},
)

# optimizer: LARS, lr 0.3 x 4096 / 256 = 4.8, trust coefficient `eta`
# 0.001 as in the paper. Biases and all BN parameters (incl. the BN of the
# ResNet shortcut, registered as `downsample.1`, and the BNs `bn*` of the two
# MLPs) get neither weight decay nor the LARS trust-ratio adaptation.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='LARS', lr=4.8, momentum=0.9, weight_decay=1e-6, eta=0.001),
    paramwise_cfg=dict(
        custom_keys={
            'bn': dict(decay_mult=0, lars_exclude=True),
            'bias': dict(decay_mult=0, lars_exclude=True),
            'downsample.1': dict(decay_mult=0, lars_exclude=True),
        }),
)

# learning rate: linear warm-up per iteration, then cosine to 0.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=10,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=990,
        eta_min=0.,
        by_epoch=True,
        begin=10,
        end=1000,
        convert_to_iter_based=True),
]

# runtime settings
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1000)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    # the support set is a buffer of the head, so it is saved and resumed
    # with the checkpoint; keep the last 3.
    checkpoint=dict(type='SafeCheckpointHook', interval=10, max_keep_ckpts=3))
# Enqueues each step's view-1 projections after the optimiser step and logs
# the fill ratio / neighbour similarity. No support-set warm-up (the paper
# describes none): neighbours are used as soon as the queue holds a row;
# before that, at the very first step, a view is its own positive.
custom_hooks = [dict(type='SupportSetQueueHook', warmup_iters=0)]

# `--auto-scale-lr` rescales lr by (actual global batch) / 4096.
auto_scale_lr = dict(base_batch_size=4096)
