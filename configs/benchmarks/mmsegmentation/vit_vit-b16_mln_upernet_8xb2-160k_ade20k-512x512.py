# ADE20K semantic segmentation with a pretrained ViT-B/16: UperNet on four
# ViT blocks (3, 6, 9, 12) rescaled to strides 4-32 by a multi-level neck,
# 512 x 512 crops, 160k iterations, 8 GPUs x 2 images (inherited from
# mmseg: AdamW lr 6e-5, no weight decay on position embedding, class token
# and norms, linear warm-up then poly, mIoU on the 2,000 val images).
#
# The backbone is mmpretrain's MoCoV3ViT, the class our ViT pretrains are
# built with (as in the linear-evaluation configs): its parameter names are
# those of the extracted file, so every tensor loads without a key
# conversion. mmseg's own VisionTransformer names the attention differently
# (attn.attn.in_proj_weight) and loads non-strictly: it would keep random
# attention weights without an error. With a Pretrained init MoCoV3ViT
# keeps the loaded position embedding (not its fixed sin-cos one); the
# 14 x 14 grid of the 224 px pretrain is resized to 32 x 32 while loading
# (bicubic, as mmseg does) and to any test-image size on the fly.
_base_ = 'mmseg::vit/vit_vit-b16_mln_upernet_8xb2-160k_ade20k-512x512.py'

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

model = dict(
    # mmseg's EncoderDecoder would point the backbone at timm weights
    # through this key.
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmpretrain.MoCoV3ViT',
        arch='base',
        img_size=512,
        patch_size=16,
        out_indices=(2, 5, 8, 11),
        # (B, C, H/16, W/16) maps of the patch tokens, what the neck takes.
        out_type='featmap',
        # Keeps the pretrained final LayerNorm (applied to block 12's
        # output), so that the file's ln1.* has a place to load into.
        final_norm=True,
        interpolate_mode='bicubic',
        # The extracted backbone (keys without "backbone."), loaded without
        # a prefix. Set by tools/benchmarks/run_downstream.sh.
        init_cfg=dict(type='Pretrained', checkpoint='path/to/backbone.pth')))

# Stop before the first iteration unless every backbone tensor loaded
# (mmengine's Pretrained init only warns when nothing matches).
custom_hooks = [dict(type='mmpretrain.PretrainedLoadCheckHook')]
