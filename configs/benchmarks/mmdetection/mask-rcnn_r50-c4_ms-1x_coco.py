# COCO instance segmentation with a pretrained ResNet-50: Mask R-CNN R50-C4
# (stages 1-3 as the backbone, stage 4 as the shared RoI head), 1x schedule,
# multi-scale training, synchronised BN everywhere, the MoCo / mmselfsup C4
# transfer protocol. The model changes to mmdet's caffe-style C4 config
# (pytorch-style ResNet and preprocessing, res5 initialised from the same
# file) are in _base_/r50-c4_pytorch-style.py, shared with the VOC config.
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50-caffe-c4_1x_coco.py',
    './_base_/r50-c4_pytorch-style.py'
]

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

model = {{_base_.pytorch_style_c4}}

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736),
                (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# Stop before the first iteration unless every backbone tensor loaded
# (mmengine's Pretrained init only warns when nothing matches).
custom_hooks = [dict(type='mmpretrain.PretrainedLoadCheckHook')]
