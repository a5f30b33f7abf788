# Linear evaluation of a pretrained ViT-B/16 (MoCo v3 architecture, e.g. an
# SNCLR ViT-B run) on ImageNet-1k: MoCo v3's protocol as mmpretrain's MoCo v3
# benchmark implements it (frozen 'base' MoCoV3ViT, linear head on the class
# token, SGD lr 12, no weight decay, cosine over 90 epochs, 8 GPUs x 128).
_base_ = ('mmpretrain::mocov3/benchmarks/'
          'vit-base-p16_8xb128-linear-coslr-90e_in1k.py')

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        # Extracted backbone (keys without "backbone."): no prefix.
        init_cfg=dict(
            type='Pretrained', checkpoint='path/to/backbone.pth',
            prefix=None)))

auto_scale_lr = dict(base_batch_size=1024)

# Stop before the first iteration unless every backbone tensor loaded
# (mmengine's Pretrained init only warns when nothing matches).
custom_hooks = [dict(type='PretrainedLoadCheckHook')]
