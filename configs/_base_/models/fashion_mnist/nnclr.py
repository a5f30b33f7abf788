# NNCLR at Fashion-MNIST size, on SimCLR's backbone.
_base_ = './simclr.py'

model = dict(
    _delete_=True,
    type='NNCLR',
    backbone={{_base_.model.backbone}},
    # Paper: 3 layers, BN after each, ReLU except the last (2048-2048-256);
    # scaled down with the backbone.
    neck=dict(
        type='NonLinearNeck',
        in_channels=256,
        hid_channels=512,
        out_channels=128,
        num_layers=3,
        with_last_bn=True,
        with_avg_pool=True),
    head=dict(
        type='NNCLRHead',
        predictor=dict(
            type='NonLinearNeck',
            in_channels=128,
            hid_channels=512,
            out_channels=128,
            num_layers=2,
            with_last_bn=False,
            with_avg_pool=False),
        # ~7 % of the training set, the paper's 98,304 / 1.28M ratio.
        queue=dict(type='SupportSetQueue', size=4096, feat_dim=128),
        loss=dict(type='NNContrastiveLoss', temperature=0.1)),
)
