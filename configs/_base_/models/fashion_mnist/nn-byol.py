# NN-BYOL at Fashion-MNIST size: stock BYOL with only its head wrapped, so
# that the target (the target network's projection of the other view)
# becomes its nearest neighbour in a support set.
_base_ = './byol.py'

model = dict(
    head=dict(
        _delete_=True,
        type='NearestNeighborTargetHead',
        head={{_base_.model.head}},
        queue=dict(type='SupportSetQueue', size=4096, feat_dim=128)))
