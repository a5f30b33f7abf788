# Stock mmpretrain MoCo v3 at Fashion-MNIST size, on SimCLR's backbone.
_base_ = './simclr.py'

temperature = 0.2
model = dict(
    _delete_=True,
    type='MoCoV3',
    base_momentum=0.01,
    backbone={{_base_.model.backbone}},
    # MoCo v3's ResNet recipe, scaled down: 2-layer projection with a last
    # affine-free BN, 2-layer predictor without a last BN, no biases.
    neck=dict(
        type='NonLinearNeck',
        in_channels=256,
        hid_channels=1024,
        out_channels=128,
        num_layers=2,
        with_bias=False,
        with_last_bn=True,
        with_last_bn_affine=False,
        with_last_bias=False,
        with_avg_pool=True),
    head=dict(
        type='MoCoV3Head',
        predictor=dict(
            type='NonLinearNeck',
            in_channels=128,
            hid_channels=1024,
            out_channels=128,
            num_layers=2,
            with_bias=False,
            with_last_bn=False,
            with_last_bn_affine=False,
            with_last_bias=False,
            with_avg_pool=False),
        loss=dict(type='CrossEntropyLoss', loss_weight=2 * temperature),
        temperature=temperature))
