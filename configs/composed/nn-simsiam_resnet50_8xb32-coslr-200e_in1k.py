# NN-SimSiam: mmpretrain's SimSiam recipe, unchanged but for the head, whose
# target (the other view's stop-gradient projection) is replaced by its
# nearest neighbour in a support set.
_base_ = 'mmpretrain::simsiam/simsiam_resnet50_8xb32-coslr-200e_in1k.py'

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

model = dict(
    head=dict(
        _delete_=True,
        type='NearestNeighborTargetHead',
        head={{_base_.model.head}},
        # SimSiam projects to 2048-d: 16,384 rows (128 MB) hold 64 global
        # batches of 256.
        queue=dict(
            type='SupportSetQueue', size=16384, feat_dim=2048,
            block_size=8192)))

# The base's SimSiamHook (fixed predictor lr) plus the support-set hook.
custom_hooks = [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True,
         lr={{_base_.lr}}),
    dict(type='SupportSetQueueHook'),
]
