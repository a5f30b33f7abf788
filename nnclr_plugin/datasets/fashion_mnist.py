"""Fashion-MNIST read from local, un-gzipped idx files (no download)."""
import math
import os.path as osp
import struct
from typing import List, Optional

from mmpretrain.datasets import FashionMNIST
from mmpretrain.registry import DATASETS

DATA_ROOT_ENV = 'NNCLR_DATA_ROOT'
SPLIT_SIZES = dict(train=60000, test=10000)
GET_DATA_HINT = (
    'Get them with `make data` (as root it installs the Debian package '
    '`dataset-fashion-mnist` and un-gzips its files into data/fashion_mnist), '
    'or run `sudo apt-get install dataset-fashion-mnist` and un-gzip '
    '/usr/share/datasets/fashion-mnist/*.gz into a folder; then point '
    f'`data_root` at it with `--cfg-options` or the {DATA_ROOT_ENV} '
    'environment variable.')


@DATASETS.register_module()
class LocalFashionMNIST(FashionMNIST):
    """mmpretrain's ``FashionMNIST`` that never downloads and says clearly
    which files are missing.

    mmpretrain's class picks the train or test files from ``test_mode``,
    not from ``split``; here ``split='test'`` alone selects the test files,
    which is what a user writing ``split='test'`` means.

    Args:
        data_root (str): Folder holding the four un-gzipped idx files.
        split (str): ``'train'`` (60k images) or ``'test'`` (10k images).
        **kwargs: Other arguments of :class:`mmpretrain.datasets.MNIST`
            and mmengine's ``BaseDataset`` (``pipeline``, ``indices``, ...).
    """

    def __init__(self, data_root: str = '', split: str = 'train', **kwargs):
        kwargs.pop('download', None)
        kwargs.setdefault('test_mode', split == 'test')
        missing = self.missing_files(data_root)
        if missing:
            where = osp.abspath(data_root) if data_root else '<empty>'
            raise FileNotFoundError(
                f'Fashion-MNIST not found: data_root={data_root!r} '
                f'(looked in {where}) lacks {", ".join(missing)}. '
                + GET_DATA_HINT)
        files = self.train_list if split != 'test' else self.test_list
        paths = [osp.join(data_root, name[:-len('.gz')]) for name, _ in files]
        for path, ndim in zip(paths, (3, 1)):
            problem = self.check_idx_file(path, ndim)
            if problem:
                raise ValueError(problem + ' ' + GET_DATA_HINT)
        problem = self.check_split_pair(*paths, 'test' if split == 'test'
                                        else 'train')
        if problem:
            raise ValueError(problem + ' ' + GET_DATA_HINT)
        super().__init__(
            data_root=data_root, split=split, download=False, **kwargs)

    @staticmethod
    def check_idx_file(path: str, ndim: int) -> Optional[str]:
        """Why an un-gzipped idx file is unusable, or None if it is fine.

        mmpretrain's reader asserts or fails with a bare reshape error deep
        in a traceback on a truncated or foreign file; this reads only the
        header and compares the file size with what it promises.
        """
        size = osp.getsize(path)
        header = 4 + 4 * ndim
        if size < header:
            return (f'{path} is not an idx file of uint8 data: {size} bytes, '
                    f'fewer than its {header}-byte header.')
        with open(path, 'rb') as f:
            magic, *dims = struct.unpack(f'>{1 + ndim}I', f.read(header))
        if magic != 0x0800 + ndim:
            return (f'{path} is not an idx file of {ndim}-D uint8 data '
                    f'(magic number {magic:#010x}, expected '
                    f'{0x0800 + ndim:#010x}); is it still gzipped?')
        expected = header + int(math.prod(dims))
        if size != expected:
            return (f'{path} is truncated or corrupt: its header promises '
                    f'{"x".join(map(str, dims))} values ({expected} bytes) '
                    f'but the file has {size} bytes.')
        return None

    @staticmethod
    def idx_count(path: str) -> int:
        """The number of items (first dimension) an idx file's header
        declares."""
        with open(path, 'rb') as f:
            return struct.unpack('>2I', f.read(8))[1]

    @classmethod
    def check_split_pair(cls, images: str, labels: str,
                         split: str) -> Optional[str]:
        """Why an images/labels pair cannot be the ``split`` split, or None.

        A labels file copied from the other split keeps a valid header, and
        mmpretrain would pair the first images with the wrong labels
        without a word; the two counts must agree, and match the split's
        size when they equal the *other* split's.
        """
        n_images, n_labels = cls.idx_count(images), cls.idx_count(labels)
        if n_images != n_labels:
            return (f'Fashion-MNIST {split} split: {images} holds {n_images} '
                    f'images but {labels} holds {n_labels} labels; both must '
                    'come from the same split (was a file of the other '
                    'split copied over one of them?).')
        other = 'test' if split == 'train' else 'train'
        if n_images == SPLIT_SIZES[other] != SPLIT_SIZES[split]:
            return (f'Fashion-MNIST {split} split: {images} and {labels} hold '
                    f'{n_images} items, the size of the {other} split '
                    f'({SPLIT_SIZES[split]} expected): the {other} files '
                    f'were copied over the {split} ones.')
        return None

    @classmethod
    def missing_files(cls, data_root: str) -> List[str]:
        """Names of the un-gzipped idx files absent from ``data_root``."""
        names = [
            name[:-len('.gz')] for name, _ in cls.train_list + cls.test_list
        ]
        if not data_root:
            return names
        return [n for n in names if not osp.isfile(osp.join(data_root, n))]
