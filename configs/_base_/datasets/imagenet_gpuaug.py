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
# A config uses it as `data_preprocessor = {{_base_.gpuaug_data_preprocessor}}`
# (`_delete_`: nothing of the stock SelfSupDataPreprocessor stays) and sets
# its loader pipeline to LoadImageFromFile, MultiView(num_views=2, [its
# stock RandomResizedCrop, RandomFlip]), PackInputs.
# Double underscore: shared here, not a key of the config.
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

