# SNCLR ResNet-50, 300 epochs, with the views' colour jitter, greyscale, blur
# and solarize made on the GPU (DeviceViewPreprocessor) instead of in the data
# loader: the loader only decodes, crops and flips (CPU time per image of
# both: docs/benchmarks.md, data throughput). Everything else, and the
# augmentation recipe itself, is
# snclr_resnet50_16xb256-amp-lars-coslr-300e_in1k.py's.
_base_ = [
    './snclr_resnet50_16xb256-amp-lars-coslr-300e_in1k.py',
    '../_base_/datasets/imagenet_gpuaug.py',
]

# The loader's share: the stock config's crop, then a flip.
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.gpuaug_mocov3_pipeline}}))

data_preprocessor = {{_base_.gpuaug_data_preprocessor}}
