"""Corrupt Fashion-MNIST files give one message naming the file.

The files are generated in the real idx format (``helpers``), so these
checks run without the real data (whose split sizes
``tests/test_foundation.py`` checks)."""
import os.path as osp
import struct

import numpy as np
import pytest
from helpers import (
    SYNTHETIC_FMNIST_SIZES,
    synthetic_fmnist_root,
    write_synthetic_fmnist,
)

from nnclr_plugin.datasets import LocalFashionMNIST

FILES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
         't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
NUM_TRAIN, NUM_TEST = 120, 40


@pytest.fixture
def copied(tmp_path):
    """Generated files, this test's own copy to damage."""
    return write_synthetic_fmnist(str(tmp_path), NUM_TRAIN, NUM_TEST)


def test_truncated_image_file_names_the_file_and_sizes(copied):
    path = osp.join(copied, 'train-images-idx3-ubyte')
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:1000])
    with pytest.raises(ValueError) as err:
        LocalFashionMNIST(data_root=copied, split='train')
    message = str(err.value)
    assert path in message and 'truncated' in message
    assert f'{NUM_TRAIN}x28x28' in message and '1000 bytes' in message


def test_gzipped_or_foreign_file_is_recognised(copied):
    with open(osp.join(copied, 't10k-labels-idx1-ubyte'), 'wb') as f:
        f.write(b'\x1f\x8b\x08\x00' + b'\x00' * 100)
    with pytest.raises(ValueError, match='still gzipped'):
        LocalFashionMNIST(data_root=copied, split='test')


def test_tiny_file_is_not_an_idx_file(copied):
    with open(osp.join(copied, 'train-labels-idx1-ubyte'), 'wb') as f:
        f.write(b'\x00\x00')
    with pytest.raises(ValueError, match='fewer than its 8-byte header'):
        LocalFashionMNIST(data_root=copied, split='train')


def test_intact_files_load(copied):
    test = LocalFashionMNIST(data_root=copied, split='test')
    assert len(test) == NUM_TEST
    assert len(LocalFashionMNIST(data_root=copied)) == NUM_TRAIN


def copy_over(root: str, source: str, target: str) -> None:
    with open(osp.join(root, source), 'rb') as f:
        data = f.read()
    with open(osp.join(root, target), 'wb') as f:
        f.write(data)


def test_labels_of_the_other_split_are_refused_naming_both_files(copied):
    """The test labels copied over the train labels: valid headers,
    NUM_TRAIN images and NUM_TEST labels; mmpretrain would train on
    mislabelled images without a word."""
    copy_over(copied, 't10k-labels-idx1-ubyte', 'train-labels-idx1-ubyte')
    with pytest.raises(ValueError) as err:
        LocalFashionMNIST(data_root=copied, split='train')
    message = str(err.value)
    assert osp.join(copied, 'train-images-idx3-ubyte') in message
    assert osp.join(copied, 'train-labels-idx1-ubyte') in message
    assert f'{NUM_TRAIN} images' in message
    assert f'{NUM_TEST} labels' in message


def test_both_files_of_the_other_split_are_refused(tmp_path):
    """Both test files copied over the train ones: a consistent pair, but
    of the real test split's size (10,000), which the train split never
    has."""
    root = write_synthetic_fmnist(str(tmp_path), NUM_TRAIN, 10000)
    for kind in ('images-idx3', 'labels-idx1'):
        copy_over(root, f't10k-{kind}-ubyte', f'train-{kind}-ubyte')
    with pytest.raises(ValueError, match='size of the test split'):
        LocalFashionMNIST(data_root=root, split='train')


def test_a_smaller_consistent_pair_loads(copied):
    """Any images/labels pair whose counts agree is a split: subsets and
    generated test data load like the real files."""
    copy_over(copied, 't10k-labels-idx1-ubyte', 'train-labels-idx1-ubyte')
    copy_over(copied, 't10k-images-idx3-ubyte', 'train-images-idx3-ubyte')
    assert len(LocalFashionMNIST(data_root=copied)) == NUM_TEST


def read_idx(path: str) -> np.ndarray:
    with open(path, 'rb') as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(f'>{ndim}I', data[4:4 + 4 * ndim])
    return np.frombuffer(data[4 + 4 * ndim:], np.uint8).reshape(dims)


def test_synthetic_files_have_the_real_format_and_separable_classes():
    """What the tests on generated data rely on: the four files with the
    real names and headers (uint8 idx, 28 x 28 images), every class among
    the first images, and classes far apart (raw-pixel 1-NN well above
    the 10% of chance)."""
    root = synthetic_fmnist_root()
    arrays = {name: read_idx(osp.join(root, name)) for name in FILES}
    for prefix, split in (('train', 'train'), ('t10k', 'test')):
        images = arrays[f'{prefix}-images-idx3-ubyte']
        labels = arrays[f'{prefix}-labels-idx1-ubyte']
        count = SYNTHETIC_FMNIST_SIZES[split]
        assert images.shape == (count, 28, 28) and labels.shape == (count, )
        assert set(labels[:50].tolist()) == set(range(10))
        with open(osp.join(root, f'{prefix}-images-idx3-ubyte'), 'rb') as f:
            assert f.read(16) == struct.pack('>4I', 0x0803, count, 28, 28)
        with open(osp.join(root, f'{prefix}-labels-idx1-ubyte'), 'rb') as f:
            assert f.read(8) == struct.pack('>2I', 0x0801, count)
    train = arrays['train-images-idx3-ubyte'].reshape(-1, 784) / 255.
    test = arrays['t10k-images-idx3-ubyte'].reshape(-1, 784) / 255.
    dist = (test ** 2).sum(1)[:, None] - 2 * test @ train.T + \
        (train ** 2).sum(1)[None]
    nearest = arrays['train-labels-idx1-ubyte'][dist.argmin(1)]
    accuracy = (nearest == arrays['t10k-labels-idx1-ubyte']).mean()
    assert accuracy > 0.5, accuracy

