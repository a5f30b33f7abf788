# Stock mmpretrain MoCo v3 on Fashion-MNIST with the demo backbone, data and
# budget: the baseline of the SNCLR demo (SNCLR = MoCo v3 + soft neighbours).
_base_ = [
    '../_base_/models/fashion_mnist/mocov3.py',
    '../_base_/demo_fashion_mnist.py',
]

model = dict(data_preprocessor={{_base_.data_preprocessor}})
