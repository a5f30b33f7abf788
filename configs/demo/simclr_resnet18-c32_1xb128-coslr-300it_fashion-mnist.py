# SimCLR baseline on Fashion-MNIST, small enough for a 2-core CPU.
# Stock mmpretrain `SimCLR`; the NNCLR/SNCLR demos share backbone, data and
# schedule so their kNN accuracies compare like for like.
_base_ = [
    '../_base_/datasets/fashion_mnist_ssl.py',
    '../_base_/schedules/demo_sgd_coslr.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='SimCLR',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=1,
        stem_channels=32,
        base_channels=32,
        # Half width and stride 2 from the first stage: about 8x fewer FLOPs
        # than the CIFAR ResNet-18, which a 2-core CPU trains at ~0.7 s/iter.
        strides=(2, 2, 2, 1),
        zero_init_residual=True),
    neck=dict(
        type='NonLinearNeck',
        in_channels=256,
        hid_channels=512,
        out_channels=128,
        num_layers=2,
        with_avg_pool=True),
    head=dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.2),
)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(
        type='SafeCheckpointHook', by_epoch=False, interval=300,
        max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
