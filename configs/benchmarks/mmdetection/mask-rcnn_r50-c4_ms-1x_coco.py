# COCO instance segmentation with a pretrained ResNet-50: Mask R-CNN R50-C4
# (stages 1-3 as the backbone, stage 4 as the shared RoI head), 1x schedule,
# multi-scale training, synchronised BN everywhere, the MoCo / mmselfsup C4
# transfer protocol.
#
# mmdet's C4 config is written for Detectron2's caffe-style ResNet (stride in
# the first 1x1 conv of a block, BGR input, mean subtraction only). Our
# backbone is mmpretrain's pytorch-style ResNet (stride in the 3x3 conv)
# trained on RGB images normalised by the ImageNet mean and std: the weight
# shapes are the same, so caffe style would load without a complaint and
# then run every strided block differently from pretraining. Hence
# style='pytorch' in both ResNet parts and the pytorch preprocessing.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50-caffe-c4_1x_coco.py'

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        # Stages 1-3 of the extracted backbone (its layer4.* are unused
        # here).
        init_cfg=dict(type='Pretrained', checkpoint='path/to/backbone.pth')),
    roi_head=dict(
        shared_head=dict(
            norm_cfg=norm_cfg,
            norm_eval=False,
            style='pytorch',
            # Stage 4 lives here as `layer4`, the name it has in the
            # backbone file, so the same file loads (its other keys are
            # ignored). mmdet's base config has no init_cfg for the shared
            # head: without this line res5 would start from random weights.
            init_cfg=dict(
                type='Pretrained', checkpoint='path/to/backbone.pth'))))

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
