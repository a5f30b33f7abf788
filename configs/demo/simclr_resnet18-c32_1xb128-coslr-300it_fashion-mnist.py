# SimCLR baseline on Fashion-MNIST, small enough for a 2-core CPU.
# Stock mmpretrain `SimCLR`; the NNCLR/SNCLR demos share backbone, data and
# schedule so their kNN accuracies compare like for like.
_base_ = [
    '../_base_/models/fashion_mnist/simclr.py',
    '../_base_/demo_fashion_mnist.py',
]

model = dict(data_preprocessor={{_base_.data_preprocessor}})
