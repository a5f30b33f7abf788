# The photometric half of the BYOL / MoCo v3 views, made on the device.
#
# mmpretrain's ImageNet SSL pipelines (imagenet_bs32_byol.py,
# imagenet_bs512_mocov3.py) spend ~65 % of the loader's CPU time on colour
# jitter, greyscale, blur and solarize (docs/benchmarks.md, data
# throughput). A `-gpuaug` config keeps only decode + random resized crop +
# flip in the loader (uint8, 224 x 224) and lets this preprocessor apply the
# rest to the whole batch on the GPU, per sample with independent random
# parameters. The flip moves before the photometric ops, which is exact:
# every op here is per pixel or a mirror-symmetric blur.
#
# The values are BYOL's asymmetric recipe, which NNCLR, SNCLR (MoCo v3's
# views) and NN-BYOL all use: view 1 always blurred and never solarised,
# view 2 blurred with p = 0.1 and solarised with p = 0.2.
#
# A config uses `data_preprocessor = {{_base_.gpuaug_data_preprocessor}}`
# (`_delete_`: nothing of the stock SelfSupDataPreprocessor stays) and the
# loader pipeline with its stock config's crop: `gpuaug_byol_pipeline`
# (BYOL: bicubic, area 0.08-1), `gpuaug_mocov3_pipeline` (MoCo v3 ResNet-50:
# area 0.2-1) or `gpuaug_mocov3_vit_pipeline` (MoCo v3 ViT: area 0.08-1).
# Double-underscore names are shared here, not keys of the config.
__photometric = dict(
    jitter_prob=0.8,
    brightness=0.4,
    contrast=0.4,
    saturation=0.2,
    hue=0.1,
    gray_prob=0.2,
    blur_sigma=(0.1, 2.0),
    solarize_threshold=128)

gpuaug_data_preprocessor = dict(
    _delete_=True,
    type='DeviceViewPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    views=[
        dict(**__photometric, blur_prob=1.0, solarize_prob=0.0),
        dict(**__photometric, blur_prob=0.1, solarize_prob=0.2),
    ])


def __pipeline(**crop) -> list:
    """Decode, then two views of the crop and a flip, packed as uint8."""
    view = [
        dict(type='RandomResizedCrop', scale=224, backend='pillow', **crop),
        dict(type='RandomFlip', prob=0.5),
    ]
    return [
        dict(type='LoadImageFromFile'),
        dict(type='MultiView', num_views=2, transforms=[view]),
        dict(type='PackInputs'),
    ]


gpuaug_byol_pipeline = __pipeline(interpolation='bicubic')
gpuaug_mocov3_pipeline = __pipeline(crop_ratio_range=(0.2, 1.))
gpuaug_mocov3_vit_pipeline = __pipeline(crop_ratio_range=(0.08, 1.))
