# PASCAL VOC 2012 + SBD ("aug", 10,582 training images) semantic
# segmentation with a pretrained ResNet-50: FCN with a dilated (D8) ResNet,
# 512 x 512 crops, 20k iterations, 4 GPUs x 4 images, the MoCo / mmselfsup
# segmentation transfer protocol. Everything is fine-tuned with synchronised
# BN (inherited from mmseg: SGD lr 0.01, poly schedule, FCN + auxiliary FCN
# head on stage 3, mIoU on VOC 2012 val).
#
# mmseg's FCN uses ResNetV1c, whose stem is three 3x3 convs (stem.*); our
# pretrain backbone is mmpretrain's ResNet-50 with the single 7x7 conv1 /
# bn1 stem, so ResNetV1c would load none of the stem and start it from
# random weights. mmseg's plain `ResNet` with the same D8 settings
# (strides 1,2,1,1, dilations 1,1,2,4, contract_dilation, inherited) has
# exactly the tensors of the pretrain backbone: every one of them loads
# (PretrainedLoadCheckHook checks it). The dilations change how the
# stage-3/4 convs are applied, not their weights.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py'

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

model = dict(
    # mmseg's EncoderDecoder would point the backbone at ImageNet weights
    # ('open-mmlab://resnet50_v1c') through this key.
    pretrained=None,
    backbone=dict(
        type='ResNet',
        # The extracted backbone (keys without "backbone."), loaded without
        # a prefix. Set by tools/benchmarks/run_downstream.sh.
        init_cfg=dict(type='Pretrained', checkpoint='path/to/backbone.pth')))

# Stop before the first iteration unless every backbone tensor loaded
# (mmengine's Pretrained init only warns when nothing matches).
custom_hooks = [dict(type='mmpretrain.PretrainedLoadCheckHook')]
