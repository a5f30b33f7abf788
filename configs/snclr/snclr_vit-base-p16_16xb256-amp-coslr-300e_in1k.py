# SNCLR, ViT-B/16 on ImageNet-1k, on mmpretrain's MoCo v3 ViT-B config.
#
# The paper reports ViT-B results, but the authors' release
# (github.com/ChongjianGE/SNCLR) only ships the ViT-S launch script, so
# the SNCLR part of this file is EXTRAPOLATED from the ViT-S run:
#   - lr base 1.5e-5 x 4096 / 256 = 2.4e-4 (the release's ViT-S value;
#     MoCo v3 uses the same base lr, 1.5e-4, for ViT-S and ViT-B, so the
#     release's ViT-S value is carried over unchanged),
#   - candidate memory 128,000 x 256, K = 30, temperature 0.2, no
#     positiveness threshold (ViT-S values; the memory holds projections,
#     whose size, 256, does not depend on the backbone).
# Not extrapolated, because they come with the MoCo v3 ViT-B config and
# equal the release's ViT-S settings: 16 GPUs x 256 = 4096, AdamW wd 0.1
# with AMP, 300 epochs with 40 warm-up, stop-grad patch embedding, momentum
# 0.99 -> 1 (base_momentum=0.01), projector 768-4096-256 (3 fc) and
# predictor 256-4096-256 (2 fc), both ending in an affine-free BN.
# See the ViT-S config for the line-by-line comparison with the release.
# mmpretrain's MoCo v3 ViT-B and ViT-S configs differ only in the backbone
# arch and the projector's input width, so this file is the ViT-S one with
# those two changed.
_base_ = './snclr_vit-small-p16_16xb256-amp-coslr-300e_in1k.py'

model = dict(
    backbone=dict(arch='base'),  # embed_dims 768, as MoCo v3 ViT-B
    neck=dict(in_channels=768))
