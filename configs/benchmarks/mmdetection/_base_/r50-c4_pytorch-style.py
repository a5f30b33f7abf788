# The model changes every R50-C4 transfer config makes to mmdet's caffe C4
# models (Faster R-CNN and Mask R-CNN alike), kept in one variable that the
# configs merge into their `model`:
#   model = {{_base_.pytorch_style_c4}}
#
# mmdet's C4 configs are written for Detectron2's caffe-style ResNet (stride
# in the first 1x1 conv of a block, BGR input, mean subtraction only). Our
# backbone is mmpretrain's pytorch-style ResNet (stride in the 3x3 conv)
# trained on RGB images normalised by the ImageNet mean and std: the weight
# shapes are the same, so caffe style would load without a complaint and
# then run every strided block differently from pretraining. Hence
# style='pytorch' in both ResNet parts and the pytorch preprocessing.
# Nothing is frozen and BN is synchronised and trained everywhere (MoCo's
# transfer protocol): self-supervised BN statistics are not those of a
# supervised model.
c4_norm_cfg = dict(type='SyncBN', requires_grad=True)
pytorch_style_c4 = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=c4_norm_cfg,
        norm_eval=False,
        style='pytorch',
        # Stages 1-3 of the extracted backbone (its layer4.* are unused
        # here). Set by tools/benchmarks/run_downstream.sh.
        init_cfg=dict(type='Pretrained', checkpoint='path/to/backbone.pth')),
    roi_head=dict(
        shared_head=dict(
            norm_cfg=c4_norm_cfg,
            norm_eval=False,
            style='pytorch',
            # Stage 4 lives here as `layer4`, the name it has in the
            # backbone file, so the same file loads (its other keys are
            # ignored). mmdet's Mask R-CNN C4 base has no init_cfg for the
            # shared head: without this line res5 would start from random
            # weights.
            init_cfg=dict(
                type='Pretrained', checkpoint='path/to/backbone.pth'))))
