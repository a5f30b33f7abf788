"""Corrupt Fashion-MNIST files give one message naming the file."""
import os.path as osp
import shutil

import pytest
from helpers import FMNIST_ROOT, requires_fmnist

from nnclr_plugin.datasets import LocalFashionMNIST

pytestmark = requires_fmnist
FILES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
         't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')


@pytest.fixture
def copied(tmp_path):
    for name in FILES:
        shutil.copy(osp.join(FMNIST_ROOT, name), tmp_path / name)
    return tmp_path


def test_truncated_image_file_names_the_file_and_sizes(copied):
    path = copied / 'train-images-idx3-ubyte'
    data = path.read_bytes()
    path.write_bytes(data[:1000])
    with pytest.raises(ValueError) as err:
        LocalFashionMNIST(data_root=str(copied), split='train')
    message = str(err.value)
    assert str(path) in message and 'truncated' in message
    assert '60000x28x28' in message and '1000 bytes' in message


def test_gzipped_or_foreign_file_is_recognised(copied):
    path = copied / 't10k-labels-idx1-ubyte'
    path.write_bytes(b'\x1f\x8b\x08\x00' + b'\x00' * 100)
    with pytest.raises(ValueError, match='still gzipped'):
        LocalFashionMNIST(data_root=str(copied), split='test')


def test_tiny_file_is_not_an_idx_file(copied):
    (copied / 'train-labels-idx1-ubyte').write_bytes(b'\x00\x00')
    with pytest.raises(ValueError, match='fewer than its 8-byte header'):
        LocalFashionMNIST(data_root=str(copied), split='train')


def test_intact_files_load(copied):
    assert len(LocalFashionMNIST(data_root=str(copied), split='test')) == \
        10000


def test_labels_of_the_other_split_are_refused_naming_both_files(copied):
    """The test labels copied over the train labels: valid headers, 60,000
    images and 10,000 labels; mmpretrain would train on mislabelled
    images without a word."""
    labels = copied / 'train-labels-idx1-ubyte'
    shutil.copy(copied / 't10k-labels-idx1-ubyte', labels)
    with pytest.raises(ValueError) as err:
        LocalFashionMNIST(data_root=str(copied), split='train')
    message = str(err.value)
    assert str(copied / 'train-images-idx3-ubyte') in message
    assert str(labels) in message
    assert '60000 images' in message and '10000 labels' in message


def test_both_files_of_the_other_split_are_refused(copied):
    for kind in ('images-idx3', 'labels-idx1'):
        shutil.copy(copied / f't10k-{kind}-ubyte', copied / f'train-{kind}-ubyte')
    with pytest.raises(ValueError, match='size of the test split'):
        LocalFashionMNIST(data_root=str(copied), split='train')
