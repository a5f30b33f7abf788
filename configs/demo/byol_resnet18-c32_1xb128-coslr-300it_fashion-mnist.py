# Stock mmpretrain BYOL on Fashion-MNIST with the demo backbone, data and
# budget: the baseline of the NN-BYOL demo.
_base_ = [
    '../_base_/models/fashion_mnist/byol.py',
    '../_base_/demo_fashion_mnist.py',
]

model = dict(data_preprocessor={{_base_.data_preprocessor}})
