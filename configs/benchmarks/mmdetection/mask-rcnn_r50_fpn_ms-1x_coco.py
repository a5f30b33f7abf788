# COCO instance segmentation with a pretrained ResNet-50: Mask R-CNN R50-FPN,
# 1x schedule (12 epochs), multi-scale training. The transfer protocol of
# MoCo / mmselfsup: the whole network is fine-tuned with synchronised BN
# (statistics over all GPUs) in the backbone, the FPN and the RoI heads,
# whose box head becomes 4 conv + 1 fc so that it has BN layers at all.
#
# Inherited unchanged from mmdet: pytorch-style ResNet-50 (stride in the 3x3
# conv, the layout mmpretrain trains) with RGB ImageNet mean/std, SGD lr
# 0.02, momentum 0.9, weight decay 1e-4, 500-iteration linear warm-up, lr x
# 0.1 at epochs 8 and 11, 8 GPUs x 2 images, bbox + segm COCO evaluation.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        # Nothing frozen, BN trained: self-supervised BN statistics are not
        # those of a supervised model, so they are fine-tuned as well.
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        # The extracted backbone (keys without "backbone."), loaded without
        # a prefix. Set by tools/benchmarks/run_downstream.sh; a missing
        # file fails at start-up.
        init_cfg=dict(type='Pretrained', checkpoint='path/to/backbone.pth')),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

# Short side drawn from 640-800 (Detectron2's multi-scale schedule).
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
