# Semi-supervised ImageNet-1k on SimCLR's 10 % label split (128,116 images,
# `10percent.txt` in data/imagenet/meta/): the 1 % recipe with SimCLR's
# 30 epochs instead of 60.
_base_ = './resnet50_8xb32-semi-coslr-60e_in1k-1pct.py'

train_dataloader = dict(dataset=dict(subset_file='meta/10percent.txt'))

param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=30,
        by_epoch=True,
        begin=0,
        end=30,
        convert_to_iter_based=True)
]

# 500 steps per epoch here; validate every 5 epochs.
train_cfg = dict(max_epochs=30, val_interval=5)
