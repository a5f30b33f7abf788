# Stock mmpretrain BYOL at Fashion-MNIST size, on SimCLR's backbone.
_base_ = './simclr.py'

model = dict(
    _delete_=True,
    type='BYOL',
    base_momentum=0.01,
    backbone={{_base_.model.backbone}},
    neck=dict(
        type='NonLinearNeck',
        in_channels=256,
        hid_channels=1024,
        out_channels=128,
        num_layers=2,
        with_bias=True,
        with_last_bn=False,
        with_avg_pool=True),
    head=dict(
        type='LatentPredictHead',
        predictor=dict(
            type='NonLinearNeck',
            in_channels=128,
            hid_channels=1024,
            out_channels=128,
            num_layers=2,
            with_bias=True,
            with_last_bn=False,
            with_avg_pool=False),
        loss=dict(type='CosineSimilarityLoss')),
)
