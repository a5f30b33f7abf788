"""ImageNet-1k label subsets in SimCLR's list format (1 % / 10 % splits)."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

from mmengine.fileio import get_file_backend, list_from_file
from mmpretrain.datasets import ImageNet
from mmpretrain.registry import DATASETS


@DATASETS.register_module()
class ImageNetSubset(ImageNet):
    """The labelled part of ImageNet-1k for semi-supervised fine-tuning.

    SimCLR released the 1 % and 10 % label splits (``1percent.txt``: 12,811
    images, ``10percent.txt``: 128,116) that later self-supervised papers
    (SwAV, BYOL, ...) fine-tune on as well. Each line names one file of the
    ImageNet training set and nothing else::

        n01440764_10026.JPEG
        n01440764_10027.JPEG

    A stock ``ImageNet`` / ``CustomDataset`` cannot read this: its
    annotation files need the path relative to ``data_prefix`` (here
    ``n01440764/n01440764_10026.JPEG``) and, with labels, a class index on
    every line. This dataset derives both from the file name: the class is
    the WordNet id before the first ``_``, the image lies in the folder of
    that id, and the class index is the id's position in the sorted list of
    ids, the order of mmpretrain's ImageNet ``meta/val.txt`` and of a folder
    scan of ``train/``. Lines that already contain a folder
    (``n01440764/n01440764_10026.JPEG``) are accepted as well.

    Args:
        subset_file (str): The SimCLR list file, relative to ``data_root``
            unless absolute.
        data_root (str): ImageNet root. Defaults to ``''``.
        split (str): Only ``'train'``; accepted so that the dataset can
            replace an inherited ``ImageNet(split='train')`` in a config.
        data_prefix (str | dict): Folder of the training images, relative
            to ``data_root``. Defaults to ``''``, i.e. ``split``.
        wnids (str | Sequence[str], optional): The class order: a list of
            WordNet ids, or a file with one per line, relative to
            ``data_root`` unless absolute (the first word of a line counts,
            so ``LOC_synset_mapping.txt`` works). Defaults to
            None: the sorted sub-folders of ``data_prefix``.
        metainfo (dict, optional): Defaults to ImageNet's 1000 class names;
            the number of classes must equal the number of ids.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.ImageNet`
            (``pipeline``, ``indices``, ...).

    Example:
        >>> dataset = ImageNetSubset(
        ...     data_root='data/imagenet',
        ...     subset_file='meta/1percent.txt',
        ...     pipeline=[...])
    """

    def __init__(self,
                 subset_file: str,
                 data_root: str = '',
                 split: str = 'train',
                 data_prefix: Union[str, dict] = '',
                 wnids: Optional[Union[str, Sequence[str]]] = None,
                 metainfo: Optional[dict] = None,
                 **kwargs):
        if split != 'train':
            raise ValueError('The label subsets are subsets of the training '
                             f"set; split must be 'train', got {split!r}")
        self.wnids_source = wnids
        # `ann_file` goes through BaseDataset, which joins it with
        # `data_root`; ImageNet gets no `split`, or it would replace the
        # subset by `meta/train.txt`.
        super().__init__(
            data_root=data_root,
            split='',
            data_prefix=data_prefix or split,
            ann_file=subset_file,
            metainfo=metainfo,
            **kwargs)

    def _class_order(self) -> List[str]:
        """The WordNet ids in class-index order."""
        if isinstance(self.wnids_source, str):
            path = self.wnids_source
            if self.data_root and not osp.isabs(path):
                path = osp.join(self.data_root, path)
            return [
                line.split()[0] for line in list_from_file(path)
                if line.strip()
            ]
        if self.wnids_source is not None:
            return list(self.wnids_source)
        if not osp.isdir(self.img_prefix):
            raise FileNotFoundError(
                f'Cannot list the class folders of {self.img_prefix!r}; '
                'pass `wnids` (a list or a file) for storage without '
                'directory listing')
        return sorted(
            entry for entry in os.listdir(self.img_prefix)
            if osp.isdir(osp.join(self.img_prefix, entry)))

    def load_data_list(self) -> List[Dict]:
        """Image paths and labels of the files in ``subset_file``."""
        wnids = self._class_order()
        classes = self.metainfo.get('classes')
        if classes is not None and len(classes) != len(wnids):
            # An index shifted by a missing folder would silently train
            # every later class on the wrong label.
            raise ValueError(
                f'{len(wnids)} WordNet ids (from '
                f'{self.wnids_source or self.img_prefix}) but '
                f'{len(classes)} classes in metainfo')
        wnid_to_label = {wnid: label for label, wnid in enumerate(wnids)}
        backend = get_file_backend(self.img_prefix, enable_singleton=True)
        data_list = []
        for line in list_from_file(self.ann_file):
            entry = line.strip()
            if not entry:
                continue
            filename = entry.split()[0]
            basename = filename.rsplit('/', 1)[-1]
            wnid = basename.split('_', 1)[0]
            if wnid not in wnid_to_label:
                raise ValueError(
                    f'{self.ann_file}: {entry!r} belongs to class {wnid!r}, '
                    'which is not one of the dataset classes')
            relative = filename if '/' in filename else f'{wnid}/{filename}'
            data_list.append({
                'img_path': backend.join_path(self.img_prefix, relative),
                'gt_label': wnid_to_label[wnid],
            })
        if not data_list:
            raise ValueError(f'{self.ann_file} lists no image')
        return data_list
