# Cityscapes semantic segmentation with a pretrained ResNet-50: FCN with a
# dilated (D8) ResNet, 769 x 769 crops, 40k iterations, 4 GPUs x 2 images,
# sliding-window testing, the MoCo / mmselfsup Cityscapes transfer setting
# (inherited from mmseg: SGD lr 0.01, poly schedule, synchronised BN, mIoU
# over the 19 classes of the val split).
#
# As in fcn_r50-d8_4xb4-20k_voc12aug-512x512.py, mmseg's `ResNet` with the
# D8 settings replaces ResNetV1c so that the stem is the pretrained one.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-769x769.py'

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(
        type='ResNet',
        init_cfg=dict(type='Pretrained', checkpoint='path/to/backbone.pth')))

custom_hooks = [dict(type='mmpretrain.PretrainedLoadCheckHook')]
