# NNCLR with a ViT-S/16 backbone: mmpretrain's MoCo v3 ViT-S recipe (data,
# backbone, AdamW + AMP, 300 epochs with 40 warm-up) with the MoCo v3
# momentum encoder replaced by NNCLR's support set. Not a configuration of
# the NNCLR paper (ResNet-50 only); the NNCLR-specific choices below are
# carried over from the ResNet-50 recipe.
#
# Inherited unchanged from the MoCo v3 config: 16 GPUs x 256 = 4096 images
# per step; the asymmetric BYOL-style views with crop scale (0.08, 1);
# AdamW, lr 1.5e-4 x 4096 / 256 = 2.4e-3, weight decay 0.1, AmpOptimWrapper
# with dynamic loss scale; linear warm-up 40 epochs then cosine to 0 at 300;
# `auto_scale_lr = dict(base_batch_size=4096)`; 3 checkpoints kept.
_base_ = [
    'mmpretrain::mocov3/mocov3_vit-small-p16_16xb256-amp-coslr-300e_in1k.py',
    '../_base_/models/nnclr_head.py'
]

# The MoCo v3 config does not import this plugin (and ours cannot be a
# second base: both define the runtime keys).
custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='NNCLR',
    backbone=dict(
        type='MoCoV3ViT',
        arch='mocov3-small',  # embed_dims 384, 12 layers, 12 heads
        img_size=224,
        patch_size=16,
        # MoCo v3's stabiliser: the patch projection stays at its random
        # (xavier-uniform) initialisation.
        stop_grad_conv1=True),
    # Projection MLP of MoCo v3 ViT (3 layers 384-4096-256, input is the
    # class token, so no pooling) with NNCLR's affine BN after the last fc.
    neck=dict(
        type='NonLinearNeck',
        in_channels=384,
        hid_channels=4096,
        out_channels=256,
        num_layers=3,
        with_bias=False,
        with_last_bn=True,
        with_avg_pool=False,
        norm_cfg=dict(type='SyncBN')),
    # NNCLR's head as for ResNet-50 (MoCo v3's predictor is the same
    # 256-4096-256 MLP, here without BN after the last fc, as in NNCLR),
    # with NNCLR's temperature 0.1; MoCo v3 uses 0.2 for ViT, the first
    # knob to try if this run under-performs.
    head={{_base_.nnclr_head}},
)

# `find_unused_parameters=True` stays as in the MoCo v3 config: the Runner
# wraps the model in DDP before `init_weights()` turns off the gradient of
# the fixed sin-cos position embedding, so DDP still expects one for it
# (without it, the second iteration fails with "Expected to have finished
# reduction in the prior iteration").

custom_hooks = [dict(type='SupportSetQueueHook', warmup_iters=0)]
