# SNCLR at Fashion-MNIST size: the MoCo v3 model (stock `MoCoV3`) with its
# head swapped for SoftNeighborHead.
_base_ = './mocov3.py'

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
