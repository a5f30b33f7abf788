# SNCLR on Fashion-MNIST: the MoCo v3 demo (stock `MoCoV3`) with its head
# swapped for SoftNeighborHead.
_base_ = [
    '../_base_/models/fashion_mnist/snclr.py',
    '../_base_/demo_fashion_mnist.py',
]

model = dict(data_preprocessor={{_base_.data_preprocessor}})

custom_hooks = [dict(type='SupportSetQueueHook', warmup_iters=30)]
