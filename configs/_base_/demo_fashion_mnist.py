# Everything of a Fashion-MNIST demo but its model: per-image views in the
# loader, the short SGD schedule, logging and one checkpoint by iteration.
# A demo config adds its model from _base_/models/fashion_mnist/ and hands it
# `data_preprocessor={{_base_.data_preprocessor}}`.
_base_ = [
    './datasets/fashion_mnist_ssl.py',
    './schedules/demo_sgd_coslr.py',
    './default_runtime.py',
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(
        type='SafeCheckpointHook', by_epoch=False, interval=300,
        max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
