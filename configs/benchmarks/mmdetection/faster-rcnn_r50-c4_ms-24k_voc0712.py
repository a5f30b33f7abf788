# PASCAL VOC detection with a pretrained ResNet-50: Faster R-CNN R50-C4
# trained on VOC07+12 trainval (16,551 images) and tested on VOC07 test
# (4,952), MoCo's 24k-iteration setting (8 GPUs x 2 images, SGD lr 0.02,
# 100-iteration warm-up, lr x 0.1 at 18k and 22k, short side 480-800 in
# steps of 32 for training, 800 for testing). Everything is fine-tuned with
# synchronised BN; the C4 model changes (pytorch-style ResNet, res5 in the
# RoI head initialised from the same file) are those of the Mask R-CNN C4
# config, shared through _base_/r50-c4_pytorch-style.py.
#
# Reported like MoCo: AP50, AP75 and AP (the mean over IoU 0.50:0.95) with
# the 11-point VOC07 metric -> pascal_voc/AP50, pascal_voc/AP75,
# pascal_voc/mAP in the log.
_base_ = [
    'mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py',
    './_base_/r50-c4_pytorch-style.py'
]

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

model = {{_base_.pytorch_style_c4}}

max_iter = 24000
train_cfg = dict(max_iters=max_iter, val_interval=max_iter)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iter,
        by_epoch=False,
        milestones=[18000, 22000],
        gamma=0.1)
]

val_evaluator = dict(
    type='VOCMetric',
    metric='mAP',
    eval_mode='11points',
    iou_thrs=[0.5 + 0.05 * i for i in range(10)])
test_evaluator = val_evaluator

auto_scale_lr = dict(base_batch_size=16)

# Stop before the first iteration unless every backbone tensor loaded
# (mmengine's Pretrained init only warns when nothing matches).
custom_hooks = [dict(type='mmpretrain.PretrainedLoadCheckHook')]
