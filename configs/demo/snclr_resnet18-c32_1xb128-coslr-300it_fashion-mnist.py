# SNCLR on Fashion-MNIST: the MoCo v3 demo (stock `MoCoV3`) with its head
# swapped for SoftNeighborHead.
_base_ = './mocov3_resnet18-c32_1xb128-coslr-300it_fashion-mnist.py'

model = dict(
    head=dict(
        _delete_=True,
        type='SoftNeighborHead',
        predictor={{_base_.model.head.predictor}},
        # ~7 % of the training set as in the NNCLR demo; K=30 as the paper.
        queue=dict(type='SupportSetQueue', size=4096, feat_dim=128),
        positiveness=dict(type='PositivenessCrossAttention'),
        loss=dict(
            type='SoftNeighborContrastiveLoss',
            temperature={{_base_.temperature}}),
        k=30))

custom_hooks = [dict(type='SupportSetQueueHook', warmup_iters=30)]
