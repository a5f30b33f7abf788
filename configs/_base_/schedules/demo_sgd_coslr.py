# Short CPU schedule shared by every Fashion-MNIST demo, so that algorithms
# are compared on the same budget: SGD + linear warm-up + cosine decay,
# counted in iterations.
max_iters = 300

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.5, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(
        custom_keys={
            'bn': dict(decay_mult=0.),
            'bias': dict(decay_mult=0.),
        }))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=False,
        begin=0,
        end=30),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters - 30,
        by_epoch=False,
        begin=30,
        end=max_iters),
]

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
