# Linear evaluation of a pretrained ViT-S/16 (MoCo v3 architecture, as in
# configs/nnclr/nnclr_vit-small-*.py) on ImageNet-1k: MoCo v3's protocol as
# mmpretrain's MoCo v3 benchmark implements it.
#
# Inherited unchanged: MoCoV3ViT 'mocov3-small' with all 12 blocks frozen
# and norm_eval; a linear head on the class token (VisionTransformerClsHead,
# N(0, 0.01) init); SGD lr 12, momentum 0.9, no weight decay; cosine decay
# over 90 epochs; 8 GPUs x 128 = 1024 images per step.
_base_ = ('mmpretrain::mocov3/benchmarks/'
          'vit-small-p16_8xb128-linear-coslr-90e_in1k.py')

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        # Extracted backbone (keys without "backbone."): no prefix, unlike
        # the inherited `prefix='backbone.'` for whole pretrain checkpoints.
        init_cfg=dict(
            type='Pretrained', checkpoint='path/to/backbone.pth',
            prefix=None)))

auto_scale_lr = dict(base_batch_size=1024)

# Stop before the first iteration unless every backbone tensor loaded
# (mmengine's Pretrained init only warns when nothing matches).
custom_hooks = [dict(type='PretrainedLoadCheckHook')]
