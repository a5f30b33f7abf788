# SimCLR at Fashion-MNIST size: the model of the demo (as is) and of the
# quality benchmark (configs/bench/ narrows it). The data preprocessor is
# the including config's: the demo's per-image views or the bench's batch
# views.
model = dict(
    type='SimCLR',
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
