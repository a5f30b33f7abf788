# Linear evaluation of a pretrained ResNet-50 on ImageNet-1k: SimCLR's
# linear protocol (NNCLR builds on SimCLR and compares with it), as
# mmpretrain's SimCLR benchmark implements it.
#
# Inherited unchanged: a linear classifier (LinearClsHead, 2048 -> 1000) on
# globally pooled features; LARS, lr 1.6 = 0.1 x 4096 / 256, momentum 0.9,
# no weight decay; cosine decay over 90 epochs; 8 GPUs x 512 = 4096 images
# per step; RandomResizedCrop 224 + flip for training, resize 256 / centre
# crop 224 for validation.
_base_ = ('mmpretrain::simclr/benchmarks/'
          'resnet50_8xb512-linear-coslr-90e_in1k.py')

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        # Stem and all four stages frozen; norm_eval keeps the pretrained BN
        # statistics (frozen stages are in eval mode already, this makes it
        # explicit and survives a different frozen_stages).
        frozen_stages=4,
        norm_eval=True,
        # The file written by tools/model_converters/
        # extract_backbone_weights.py: keys without "backbone.", hence no
        # prefix here (mmengine keeps only the keys that start with the
        # prefix and would find none). The launchers set the path; a
        # missing file fails at start-up instead of training a random net.
        init_cfg=dict(
            type='Pretrained', checkpoint='path/to/backbone.pth',
            prefix=None)))

# `--auto-scale-lr` treats lr 1.6 as the value for 4096 images per step.
auto_scale_lr = dict(base_batch_size=4096)

# Stop before the first iteration unless every backbone tensor loaded
# (mmengine's Pretrained init only warns when nothing matches).
custom_hooks = [dict(type='PretrainedLoadCheckHook')]
