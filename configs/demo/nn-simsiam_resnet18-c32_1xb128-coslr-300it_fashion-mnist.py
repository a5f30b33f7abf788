# NN-SimSiam: the stock SimSiam demo with only its head wrapped, so that the
# target (the other view's stop-gradient projection) becomes its nearest
# neighbour in a support set.
_base_ = './simsiam_resnet18-c32_1xb128-coslr-300it_fashion-mnist.py'

model = dict(
    head=dict(
        _delete_=True,
        type='NearestNeighborTargetHead',
        head={{_base_.model.head}},
        queue=dict(type='SupportSetQueue', size=4096, feat_dim=512)))

custom_hooks = [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True,
         lr={{_base_.optim_wrapper.optimizer.lr}}),
    dict(type='SupportSetQueueHook', warmup_iters=30),
]
