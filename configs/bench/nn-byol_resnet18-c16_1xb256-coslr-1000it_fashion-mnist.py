# Quality benchmark: NN-BYOL (BYOL whose target is its support-set neighbour).
_base_ = [
    '../_base_/models/fashion_mnist/nn-byol.py',
    '../_base_/bench_fashion_mnist.py'
]
model = {{_base_.bench_model}}
train_dataloader = {{_base_.bench_train_dataloader}}
param_scheduler = {{_base_.bench_param_scheduler}}
train_cfg = {{_base_.bench_train_cfg}}
default_hooks = {{_base_.bench_default_hooks}}
custom_hooks = [
    dict(
        type='SupportSetQueueHook',
        warmup_iters={{_base_.bench_warmup_iters}}),
    {{_base_.bench_knn_hook}}
]
