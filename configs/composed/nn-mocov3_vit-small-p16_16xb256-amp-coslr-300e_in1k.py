# NN-MoCo v3: mmpretrain's MoCo v3 ViT-S recipe, unchanged but for the head,
# whose target (the momentum key of the other view) is replaced by its
# nearest neighbour in a support set.
_base_ = ('mmpretrain::mocov3/'
          'mocov3_vit-small-p16_16xb256-amp-coslr-300e_in1k.py')

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

model = dict(
    head=dict(
        _delete_=True,
        type='NearestNeighborTargetHead',
        head={{_base_.model.head}},
        queue=dict(
            type='SupportSetQueue', size=98304, feat_dim=256,
            block_size=8192)))

custom_hooks = [dict(type='SupportSetQueueHook')]
