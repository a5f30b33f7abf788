# NNCLR ResNet-50, 400 epochs on 16 GPUs x 256 = 4096 (the paper's global
# batch, hence its lr 4.8 and support set of 98,304). Only the schedule is
# shorter: 10 warm-up epochs, cosine over the remaining 390.
_base_ = './nnclr_resnet50_64xb64-lars-coslr-1000e_in1k.py'

train_dataloader = dict(batch_size=256)

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=10,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=390,
        eta_min=0.,
        by_epoch=True,
        begin=10,
        end=400,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=400)
