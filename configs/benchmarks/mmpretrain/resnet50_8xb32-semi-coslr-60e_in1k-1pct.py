# Semi-supervised ImageNet-1k: fine-tune the whole pretrained ResNet-50 on
# SimCLR's 1 % label split (12,811 images, `1percent.txt` from the SimCLR
# repository, placed in data/imagenet/meta/), evaluate on the full
# validation set, the semi-supervised setting of the NNCLR paper.
#
# SimCLR's fine-tuning recipe: SGD with Nesterov momentum 0.9, lr
# 0.05 x batch / 256 without warm-up, no weight decay or other
# regularisation, random crop + flip only; 60 epochs for 1 %, 30 for 10 %.
# It trains all layers with one learning rate. Other protocols (e.g.
# mmselfsup's) give the new head a larger one; add
# `paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.)})` to
# `optim_wrapper` to try that. The cosine decay is this config's choice.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    '../../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        # Everything trains (frozen_stages=-1, norm_eval=False are the
        # defaults); statistics over the 256-image global batch.
        norm_cfg=dict(type='SyncBN'),
        # Extracted backbone (keys without "backbone."): no prefix.
        init_cfg=dict(type='Pretrained', checkpoint='path/to/backbone.pth')))

# 8 GPUs x 32 = 256 images per step: 50 steps per epoch on 1 %.
train_dataloader = dict(
    batch_size=32,
    dataset=dict(
        # Replaces the inherited ImageNet(split='train'); data_root and the
        # pipeline (RandomResizedCrop 224 + flip) stay.
        type='ImageNetSubset',
        subset_file='meta/1percent.txt'))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD', lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.))

param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=60,
        by_epoch=True,
        begin=0,
        end=60,
        convert_to_iter_based=True)
]

# A pass over the 50,000 validation images costs more than an epoch on the
# subset, hence every 10 epochs (and always after the last one).
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=60, val_interval=10)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook', interval=10, max_keep_ckpts=3))

# `--auto-scale-lr` applies SimCLR's 0.05 x batch / 256 rule.
auto_scale_lr = dict(base_batch_size=256)

# Stop before the first iteration unless every backbone tensor loaded
# (mmengine's Pretrained init only warns when nothing matches).
custom_hooks = [dict(type='PretrainedLoadCheckHook')]
