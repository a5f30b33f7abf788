# Deterministic single-view pipeline for Fashion-MNIST evaluation (kNN,
# linear probe, neighbour visualisation): resize 28 -> 32, no augmentation.
dataset_type = 'LocalFashionMNIST'
data_root = '{{$NNCLR_DATA_ROOT:data/fashion_mnist}}'

data_preprocessor = dict(
    num_classes=10, mean=[72.94], std=[90.02], to_rgb=False)

eval_pipeline = [
    dict(type='Resize', scale=32, backend='pillow'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=256,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=eval_pipeline))

val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=eval_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
