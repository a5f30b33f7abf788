"""Fashion-MNIST read from local, un-gzipped idx files (no download)."""
import os.path as osp
from typing import List

from mmpretrain.datasets import FashionMNIST
from mmpretrain.registry import DATASETS

DATA_ROOT_ENV = 'NNCLR_DATA_ROOT'
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
        super().__init__(
            data_root=data_root, split=split, download=False, **kwargs)

    @classmethod
    def missing_files(cls, data_root: str) -> List[str]:
        """Names of the un-gzipped idx files absent from ``data_root``."""
        names = [
            name[:-len('.gz')] for name, _ in cls.train_list + cls.test_list
        ]
        if not data_root:
            return names
        return [n for n in names if not osp.isfile(osp.join(data_root, n))]
