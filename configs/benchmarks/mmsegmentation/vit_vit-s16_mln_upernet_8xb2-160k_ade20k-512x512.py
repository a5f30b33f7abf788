# ADE20K UperNet with a pretrained ViT-S/16 of the MoCo v3 architecture
# (384 channels, 12 layers, 12 heads; what configs/nnclr and configs/snclr
# pretrain): the ViT-B recipe of
# vit_vit-b16_mln_upernet_8xb2-160k_ade20k-512x512.py with the neck and
# heads narrowed to 384 input channels, as mmseg's DeiT-S UperNet config
# does. UperNet's own width (512 channels) is unchanged.
_base_ = './vit_vit-b16_mln_upernet_8xb2-160k_ade20k-512x512.py'

embed_dims = 384
model = dict(
    backbone=dict(arch='mocov3-small'),
    neck=dict(in_channels=[embed_dims] * 4, out_channels=embed_dims),
    decode_head=dict(in_channels=[embed_dims] * 4),
    auxiliary_head=dict(in_channels=embed_dims))
