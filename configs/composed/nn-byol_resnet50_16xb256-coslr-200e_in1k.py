# NN-BYOL: mmpretrain's BYOL recipe, unchanged but for the head, whose
# target (the target network's projection of the other view) is replaced by
# its nearest neighbour in a support set (NNCLR paper, Sec. 4.3: NN positives
# with other losses).
_base_ = 'mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py'

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

model = dict(
    head=dict(
        _delete_=True,
        type='NearestNeighborTargetHead',
        head={{_base_.model.head}},
        # NNCLR's support set: 98,304 x 256, scored in blocks so that a
        # 256 x 98,304 matrix is never built at once.
        queue=dict(
            type='SupportSetQueue', size=98304, feat_dim=256,
            block_size=8192)))

custom_hooks = [dict(type='SupportSetQueueHook')]
