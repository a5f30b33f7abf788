# NNCLR on Fashion-MNIST with the SimCLR demo's backbone, data and budget.
_base_ = [
    '../_base_/models/fashion_mnist/nnclr.py',
    '../_base_/demo_fashion_mnist.py',
]

model = dict(data_preprocessor={{_base_.data_preprocessor}})

# The queue fills in 32 iterations; neighbours of a random network are noise,
# so use the view itself as positive during the lr warm-up.
custom_hooks = [dict(type='SupportSetQueueHook', warmup_iters=30)]
