# Data config of tools/analysis_tools/knn_eval.py for ImageNet-1k: the
# whole training set is the memory bank (`train_dataloader`), the
# validation set holds the queries (`val_dataloader`). Both use the
# deterministic single-view evaluation pipeline (resize the short side to
# 256, centre crop 224); the model config supplies the normalisation.
# Usage: configs/benchmarks/README.md.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py'

train_dataloader = dict(
    batch_size=256,
    # knn_eval.py turns shuffling off itself; the memory bank is a plain
    # pass over the training set, not a training loader.
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline={{_base_.test_pipeline}}))
val_dataloader = dict(batch_size=256)
test_dataloader = val_dataloader
