# NN-BYOL: the stock BYOL demo with only its head wrapped, so that the
# target (the target network's projection of the other view) becomes its
# nearest neighbour in a support set.
_base_ = [
    '../_base_/models/fashion_mnist/nn-byol.py',
    '../_base_/demo_fashion_mnist.py',
]

model = dict(data_preprocessor={{_base_.data_preprocessor}})

custom_hooks = [dict(type='SupportSetQueueHook', warmup_iters=30)]
