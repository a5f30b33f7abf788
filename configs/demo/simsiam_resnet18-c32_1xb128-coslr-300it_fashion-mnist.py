# Stock mmpretrain SimSiam on Fashion-MNIST with the demo backbone, data and
# budget: the baseline of the NN-SimSiam demo.
_base_ = './simclr_resnet18-c32_1xb128-coslr-300it_fashion-mnist.py'

model = dict(
    _delete_=True,
    type='SimSiam',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone={{_base_.model.backbone}},
    neck=dict(
        type='NonLinearNeck',
        in_channels=256,
        hid_channels=512,
        out_channels=512,
        num_layers=3,
        with_last_bn_affine=False,
        with_avg_pool=True),
    head=dict(
        type='LatentPredictHead',
        loss=dict(type='CosineSimilarityLoss'),
        predictor=dict(
            type='NonLinearNeck',
            in_channels=512,
            hid_channels=128,
            out_channels=512,
            with_avg_pool=False,
            with_last_bn=False,
            with_last_bias=True)),
)

# SimSiam keeps the predictor's lr fixed (paper Sec. 4.1).
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'predictor': dict(fix_lr=True)}))
custom_hooks = [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True,
         lr={{_base_.optim_wrapper.optimizer.lr}})
]
