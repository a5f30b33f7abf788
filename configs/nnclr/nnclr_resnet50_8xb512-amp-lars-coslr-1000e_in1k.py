# The paper recipe on a single 8-GPU node: 8 x 512 = 4096, the same global
# batch, so lr (4.8), support set, schedule and everything else are those of
# the 64xb64 config; only mixed precision is added.
#
# NOTE: needs big GPUs (80 GB, e.g. A100-80G / H100). 512 images per GPU are
# 1024 crops of 224 x 224 in the graph of one step. Counting the tensors
# autograd saves for backward (ResNet-50 + both MLPs) gives ~164 MiB per image
# (two views) in fp32, i.e. ~82 GiB per GPU: more than an 80 GB card holds,
# hence AMP (about 50 GiB per GPU), as mmpretrain's MoCo v3 8xb512 ResNet-50
# configs do. With smaller GPUs use the 64xb64 or 16xb256 configs.
_base_ = './nnclr_resnet50_64xb64-lars-coslr-1000e_in1k.py'

train_dataloader = dict(batch_size=512, num_workers=16)

optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
