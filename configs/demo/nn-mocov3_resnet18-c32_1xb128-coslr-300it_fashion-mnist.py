# NN-MoCo v3: the stock MoCo v3 demo with only its head wrapped, so that the
# target (the momentum key of the other view) becomes its nearest neighbour
# in a support set.
_base_ = './mocov3_resnet18-c32_1xb128-coslr-300it_fashion-mnist.py'

model = dict(
    head=dict(
        _delete_=True,
        type='NearestNeighborTargetHead',
        head={{_base_.model.head}},
        queue=dict(type='SupportSetQueue', size=4096, feat_dim=128)))

custom_hooks = [dict(type='SupportSetQueueHook', warmup_iters=30)]
