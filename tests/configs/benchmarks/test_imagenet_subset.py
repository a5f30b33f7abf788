"""ImageNetSubset reads SimCLR's 1 % / 10 % label lists."""
import copy
import os
import os.path as osp

import pytest
from downstream_helpers import (
    SEMI_1PCT,
    SEMI_10PCT,
    TRAIN_PER_CLASS,
    USED_LABELS,
    WNIDS,
    random_image,
    write_lines,
)
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

import nnclr_plugin  # noqa: F401

init_default_scope('mmpretrain')


def build(**kwargs):
    return DATASETS.build(dict(type='ImageNetSubset', **kwargs))


def infos(dataset):
    # `data_list` is emptied once the dataset serialises its annotations.
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def test_reads_the_simclr_list_format(tiny_imagenet):
    dataset = build(data_root=tiny_imagenet, subset_file='meta/1percent.txt')
    # One line per image, file name only: n00000500_1000.JPEG
    assert len(dataset) == len(USED_LABELS)
    # Lengths are equal (asserted above): zip drops nothing.
    for info, label in zip(infos(dataset), USED_LABELS):
        wnid = WNIDS[label]
        assert info['gt_label'] == label
        assert info['img_path'] == osp.join(tiny_imagenet, 'train', wnid,
                                            f'{wnid}_1000.JPEG')
    # ImageNet's class names stay the metainfo.
    assert len(dataset.metainfo['classes']) == 1000


def test_samples_go_through_the_pipeline(tiny_imagenet):
    dataset = build(
        data_root=tiny_imagenet,
        subset_file='meta/10percent.txt',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='PackInputs')])
    assert len(dataset) == len(USED_LABELS) * TRAIN_PER_CLASS
    sample = dataset[len(dataset) - 1]
    assert tuple(sample['inputs'].shape) == (3, 64, 72)
    assert sample['data_samples'].gt_label.item() == USED_LABELS[-1]


@pytest.mark.parametrize('config, size', [(SEMI_1PCT, 3), (SEMI_10PCT, 6)],
                         ids=['1pct', '10pct'])
def test_semi_supervised_configs_use_the_subsets(config, size,
                                                 tiny_imagenet):
    dataset_cfg = copy.deepcopy(Config.fromfile(config).train_dataloader)
    dataset_cfg = dataset_cfg.dataset
    dataset_cfg.data_root = tiny_imagenet
    dataset = DATASETS.build(dataset_cfg)
    assert type(dataset).__name__ == 'ImageNetSubset'
    assert len(dataset) == size


@pytest.fixture
def real_wnid_root(tmp_path):
    """Three real WordNet ids, lines with blank lines, spaces and folders."""
    wnids = ['n01440764', 'n01443537', 'n01484850']
    for wnid in wnids:
        os.makedirs(tmp_path / 'train' / wnid)
        random_image(
            str(tmp_path / 'train' / wnid / f'{wnid}_10026.JPEG'), (40, 30),
            seed=0)
    write_lines(
        str(tmp_path / 'subset.txt'), [
            'n01484850_10026.JPEG', '', '  n01440764_10026.JPEG  ',
            'n01443537/n01443537_10026.JPEG'
        ])
    return tmp_path, wnids


def test_explicit_class_order(real_wnid_root):
    root, wnids = real_wnid_root
    # LOC_synset_mapping.txt style: "wnid description"; reversed order.
    write_lines(str(root / 'synsets.txt'),
                [f'{w} class {w}' for w in reversed(wnids)])
    dataset = build(
        data_root=str(root),
        subset_file='subset.txt',
        wnids='synsets.txt',
        metainfo=dict(classes=('c', 'b', 'a')))
    assert [info['gt_label'] for info in infos(dataset)] == [0, 2, 1]
    assert infos(dataset)[2]['img_path'].endswith(
        osp.join('train', 'n01443537', 'n01443537_10026.JPEG'))


def test_class_count_must_match(real_wnid_root):
    root, _ = real_wnid_root
    # Three folders, but ImageNet's 1000 classes: labels would not be
    # ImageNet's, so it refuses.
    with pytest.raises(ValueError, match='3 WordNet ids .* 1000 classes'):
        build(data_root=str(root), subset_file='subset.txt')


def test_unknown_class_is_an_error(real_wnid_root):
    root, wnids = real_wnid_root
    write_lines(str(root / 'bad.txt'), ['n09999999_1.JPEG'])
    with pytest.raises(ValueError, match="class 'n09999999'"):
        build(
            data_root=str(root),
            subset_file='bad.txt',
            wnids=wnids,
            metainfo=dict(classes=('a', 'b', 'c')))


def test_only_the_training_split(tiny_imagenet):
    with pytest.raises(ValueError, match="split must be 'train'"):
        build(
            data_root=tiny_imagenet,
            subset_file='meta/1percent.txt',
            split='val')
