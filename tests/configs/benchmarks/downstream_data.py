"""Tiny generated copies of the segmentation and VOC detection data sets,
in the folder layouts the mmseg / mmdet configs read.

Images are random noise; each label map or annotation has one or two
rectangles of known classes, so that training has a target and evaluation a
ground truth to match.
"""
import os
import os.path as osp
from typing import List, Tuple

import numpy as np
from downstream_helpers import random_image, write_lines
from PIL import Image

IMAGE_SIZE = (96, 80)  # (width, height)


def rectangles(seed: int, num_classes: int,
               first_class: int = 1) -> List[Tuple[int, int, int, int, int]]:
    """One or two ``(x1, y1, x2, y2, class)`` boxes inside IMAGE_SIZE, each
    at least 32 px wide and high (mmdet's VOC ``min_size``)."""
    rng = np.random.default_rng(seed)
    width, height = IMAGE_SIZE
    boxes = []
    for i in range(1 + seed % 2):
        x1, y1 = int(rng.integers(0, width - 40)), int(rng.integers(0, 30))
        x2 = int(rng.integers(x1 + 32, width))
        y2 = int(rng.integers(y1 + 32, height))
        boxes.append((x1, y1, x2, y2,
                      first_class + (seed + i) % num_classes))
    return boxes


def label_map(path: str, seed: int, num_classes: int, background: int,
              first_class: int = 1, border: bool = False) -> None:
    """A single-channel PNG label map: ``background`` with rectangles of
    class ids; ``border`` adds VOC's 255 (ignore) outline to each one."""
    width, height = IMAGE_SIZE
    labels = np.full((height, width), background, dtype=np.uint8)
    for x1, y1, x2, y2, cls in rectangles(seed, num_classes, first_class):
        if border:
            labels[y1:y2, x1:x2] = 255
            labels[y1 + 1:y2 - 1, x1 + 1:x2 - 1] = cls
        else:
            labels[y1:y2, x1:x2] = cls
    Image.fromarray(labels, mode='L').save(path)


def make_tiny_voc_seg(root: str) -> str:
    """``VOCdevkit/VOC2012`` as mmseg's VOC12aug config reads it::

        JPEGImages/<id>.jpg
        SegmentationClass/<id>.png      (0 background, 1-20, 255 border)
        SegmentationClassAug/<id>.png   (SBD: no border)
        ImageSets/Segmentation/train.txt, aug.txt, val.txt
    """
    for sub in ('JPEGImages', 'SegmentationClass', 'SegmentationClassAug',
                'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    names = [f'2007_{i:06d}' for i in range(4)]
    for i, name in enumerate(names):
        random_image(osp.join(root, 'JPEGImages', name + '.jpg'), IMAGE_SIZE,
                     seed=300 + i)
        label_map(osp.join(root, 'SegmentationClass', name + '.png'), i,
                  num_classes=20, background=0, border=True)
        label_map(osp.join(root, 'SegmentationClassAug', name + '.png'), i,
                  num_classes=20, background=0)
    sets = osp.join(root, 'ImageSets', 'Segmentation')
    write_lines(osp.join(sets, 'train.txt'), names[:2])
    write_lines(osp.join(sets, 'aug.txt'), names[:2])
    write_lines(osp.join(sets, 'val.txt'), names[2:])
    return root


def make_tiny_cityscapes(root: str) -> str:
    """Cityscapes as mmseg reads it (train ids already made)::

        leftImg8bit/{train,val}/<city>/<city>_<n>_000019_leftImg8bit.png
        gtFine/{train,val}/<city>/<city>_<n>_000019_gtFine_labelTrainIds.png
    """
    for split, city, seed in (('train', 'aachen', 0), ('val', 'lindau', 10)):
        img_dir = osp.join(root, 'leftImg8bit', split, city)
        ann_dir = osp.join(root, 'gtFine', split, city)
        os.makedirs(img_dir)
        os.makedirs(ann_dir)
        for n in range(2):
            stem = f'{city}_{n:06d}_000019'
            image = np.random.default_rng(seed + n).integers(
                0, 256, (IMAGE_SIZE[1], IMAGE_SIZE[0], 3), dtype=np.uint8)
            Image.fromarray(image).save(
                osp.join(img_dir, stem + '_leftImg8bit.png'))
            # Road (0) everywhere, a few of the 19 train ids on top.
            label_map(osp.join(ann_dir, stem + '_gtFine_labelTrainIds.png'),
                      seed + n, num_classes=18, background=0)
    return root


def make_tiny_ade20k(root: str) -> str:
    """``ADEChallengeData2016`` as mmseg reads it::

        images/{training,validation}/ADE_<split>_<n>.jpg
        annotations/{training,validation}/ADE_<split>_<n>.png
            (0 = "other", ignored through reduce_zero_label; 1-150)
    """
    for split, seed in (('training', 0), ('validation', 20)):
        img_dir = osp.join(root, 'images', split)
        ann_dir = osp.join(root, 'annotations', split)
        os.makedirs(img_dir)
        os.makedirs(ann_dir)
        for n in range(2):
            stem = f'ADE_{"train" if split == "training" else "val"}_' \
                f'{n + 1:08d}'
            random_image(osp.join(img_dir, stem + '.jpg'), IMAGE_SIZE,
                         seed=seed + n)
            # Mostly wall (1) with other classes: few "other" pixels.
            label_map(osp.join(ann_dir, stem + '.png'), seed + n,
                      num_classes=149, background=1, first_class=2)
    return root


VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus',
               'car', 'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse',
               'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
               'train', 'tvmonitor')


def voc_annotation(path: str, seed: int) -> None:
    """A PASCAL VOC XML annotation with one or two boxes."""
    width, height = IMAGE_SIZE
    objects = ''.join(
        f'<object><name>{VOC_CLASSES[cls]}</name><pose>Unspecified</pose>'
        f'<truncated>0</truncated><difficult>0</difficult><bndbox>'
        f'<xmin>{x1 + 1}</xmin><ymin>{y1 + 1}</ymin><xmax>{x2}</xmax>'
        f'<ymax>{y2}</ymax></bndbox></object>'
        for x1, y1, x2, y2, cls in rectangles(seed, 20, first_class=0))
    with open(path, 'w') as f:
        f.write(f'<annotation><size><width>{width}</width><height>{height}'
                f'</height><depth>3</depth></size>{objects}</annotation>')


def make_tiny_voc_det(root: str) -> str:
    """``VOCdevkit`` as mmdet's VOC07+12 configs read it::

        VOC2007/JPEGImages/<id>.jpg, Annotations/<id>.xml,
                ImageSets/Main/trainval.txt, test.txt
        VOC2012/... trainval.txt
    """
    for year, seed in (('2007', 0), ('2012', 50)):
        base = osp.join(root, f'VOC{year}')
        for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
            os.makedirs(osp.join(base, sub))
        count = 3 if year == '2007' else 1
        names = [f'{year}_{i:06d}' for i in range(count)]
        for i, name in enumerate(names):
            random_image(osp.join(base, 'JPEGImages', name + '.jpg'),
                         IMAGE_SIZE, seed=seed + i)
            voc_annotation(osp.join(base, 'Annotations', name + '.xml'),
                           seed + i)
        main = osp.join(base, 'ImageSets', 'Main')
        if year == '2007':
            write_lines(osp.join(main, 'trainval.txt'), names[:1])
            write_lines(osp.join(main, 'test.txt'), names[1:])
        else:
            write_lines(osp.join(main, 'trainval.txt'), names)
    return root
