# Two-view self-supervised pipeline for 28x28 grayscale Fashion-MNIST.
# The images are upscaled to 32 px (the CIFAR-style backbones' native size).
# Hue/saturation are meaningless on one channel (and mmpretrain's ColorJitter
# needs RGB) and Gaussian blur destroys a 32 px image, so, as in the CIFAR
# recipes of SimCLR/solo-learn, the colour part is brightness/contrast jitter
# only (`GrayBrightnessContrast`) and there is no blur.
dataset_type = 'LocalFashionMNIST'
# Override with NNCLR_DATA_ROOT=/path or --cfg-options data_root=/path
# (then also train_dataloader.dataset.data_root=/path).
data_root = '{{$NNCLR_DATA_ROOT:data/fashion_mnist}}'

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[72.94],  # Fashion-MNIST train-set mean and std, 0..255 scale
    std=[90.02],
    to_rgb=False)

view_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=32,
        crop_ratio_range=(0.2, 1.0),
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomApply',
        transforms=[
            dict(type='GrayBrightnessContrast', brightness=0.4, contrast=0.4)
        ],
        prob=0.8),
]

train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
