"""Draw the nearest neighbours of test images in a checkpoint's projection
space, as a PNG grid (one row per query).

Two neighbour sources:

* ``support-set`` (default when the model has a non-empty
  ``SupportSetQueue``): the neighbours NNCLR itself would use. Indices,
  cosine similarities and labels are exact (``queue.nearest`` on the
  restored queue, ``queue.labels``). The queue holds projections, not
  images, so each neighbour is *pictured* by the gallery image (first
  ``--max-gallery`` images of the data config's ``train_dataloader``) whose
  projection is closest to the stored one; the figure says so.
* ``dataset``: exact kNN over the gallery images' projections.

Example::

    python tools/analysis_tools/visualize_neighbors.py \\
        configs/demo/nnclr_resnet18-c32_1xb128-coslr-300it_fashion-mnist.py \\
        work_dirs/nnclr/iter_300.pth --out neighbors.png
"""
# First: registers the components, allow-lists checkpoint globals and
# mutes mmengine's import-time pkg_resources warning.
import nnclr_plugin  # noqa: F401,I001

import argparse
import copy
import os.path as osp
import time
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmengine.utils import mkdir_or_exist

from nnclr_plugin.utils import build_model_from_config, resolve_config_path
from nnclr_plugin.utils.user_errors import run_cli
from nnclr_plugin.visualization import (draw_neighbor_grid, embed_images,
                                        find_support_set, gallery_knn,
                                        iter_batches, label_agreement,
                                        select_queries, support_set_neighbors)

REPO_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
DEFAULT_DATA_CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                               'fashion_mnist_eval.py')
SOURCES = ('support-set', 'dataset')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='PNG grid of the nearest neighbours of test images in '
        'the projection space of a checkpoint (support set or dataset)')
    parser.add_argument('config', help='model config (e.g. an NNCLR config)')
    parser.add_argument('checkpoint', help='checkpoint of that model')
    parser.add_argument('--out', required=True, help='output PNG file')
    parser.add_argument(
        '--data-config',
        default=DEFAULT_DATA_CONFIG,
        help='single-view data config: train_dataloader.dataset is the '
        'gallery, val_dataloader.dataset gives the queries '
        '(default: %(default)s)')
    parser.add_argument(
        '--data-root',
        help='dataset folder, set as the data_root of both datasets')
    parser.add_argument(
        '--num-queries', type=int, default=16, help='rows of the grid')
    parser.add_argument('--k', type=int, default=8, help='neighbours per row')
    parser.add_argument(
        '--source',
        choices=SOURCES,
        help='where neighbours come from (default: support-set if the model '
        'has a filled SupportSetQueue, else dataset)')
    parser.add_argument(
        '--max-gallery',
        type=int,
        default=10000,
        help='use the first N gallery images (default: %(default)s)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the query choice')
    parser.add_argument(
        '--batch-size', type=int, default=256, help='embedding batch size')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device for the model (default: %(default)s)')
    args = parser.parse_args(argv)
    for name in ('num_queries', 'k', 'max_gallery', 'batch_size'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    return args


def build_datasets(args: argparse.Namespace):
    """The gallery (first ``--max-gallery`` train images) and query
    (whole val split) datasets of ``args.data_config``."""
    from mmpretrain.registry import DATASETS

    data_cfg = Config.fromfile(resolve_config_path(args.data_config))
    datasets = []
    for name, indices in (('train_dataloader', args.max_gallery),
                          ('val_dataloader', None)):
        ds_cfg = copy.deepcopy(data_cfg[name].dataset)
        if args.data_root is not None:
            ds_cfg.data_root = args.data_root
        if indices is not None:
            # BaseDataset's int `indices` keeps the first N samples before
            # any pipeline runs; position i stays original index i.
            ds_cfg.indices = indices
        datasets.append(DATASETS.build(ds_cfg))
    return tuple(datasets)


def raw_image(dataset, index: int) -> np.ndarray:
    """The image of ``dataset[index]`` as it is stored, for display.

    ``LocalFashionMNIST`` keeps the 28x28 uint8 array in the data info;
    other datasets fall back to the pipeline's packed input.
    """
    info = dataset.get_data_info(index)
    if isinstance(info.get('img'), np.ndarray):
        return info['img']
    img = dataset[index]['inputs'].permute(1, 2, 0).numpy()
    # Packed inputs are BGR (mmcv's loading order); matplotlib wants RGB.
    return img[..., ::-1] if img.shape[-1] == 3 else img[..., 0]


def main(argv: Optional[List[str]] = None) -> Dict:
    """Draw the grid; returns what was drawn.

    Args:
        argv (List[str], optional): Command-line arguments without the
            program name. Defaults to ``sys.argv[1:]``.

    Returns:
        dict: ``out_file``, ``source``, ``k`` (after clipping),
        ``num_gallery``, ``query_indices`` (into the val split),
        ``query_labels``, ``neighbor_indices`` (queue rows for
        ``support-set``, gallery indices for ``dataset``),
        ``neighbor_labels`` (stored queue labels / gallery labels),
        ``neighbor_sims``, ``image_indices`` (gallery index of every shown
        neighbour image), ``image_labels``, ``image_sims`` (support set
        only: cosine between stored row and shown image, else None),
        ``label_agreement`` (share of shown neighbours of the query's class,
        None if no label is known), ``queue_filled`` and ``figure`` (PNG
        size and grid shape). Nested lists are plain Python lists.
    """
    args = parse_args(argv)
    start = time.time()
    _, model = build_model_from_config(args.config)
    # Restores the support-set buffers (queue, labels, num_filled) too.
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.to(args.device)
    queue = find_support_set(model)
    filled = 0 if queue is None else queue.filled
    source = args.source or ('support-set' if filled else 'dataset')
    if source == 'support-set' and not filled:
        raise ValueError(
            f'--source support-set: {args.checkpoint} has '
            + ('no SupportSetQueue' if queue is None else 'an empty support '
               'set') + '; use --source dataset')

    gallery_ds, query_ds = build_datasets(args)
    class_names = list(query_ds.metainfo.get('classes') or [])
    query_idx = select_queries(query_ds.get_gt_labels(), args.num_queries,
                               args.seed)
    gallery, gallery_labels = embed_images(
        model, iter_batches(gallery_ds, range(len(gallery_ds)),
                            args.batch_size))
    query, query_labels = embed_images(
        model, iter_batches(query_ds, query_idx, args.batch_size))

    image_sims = None
    if source == 'support-set':
        nbrs = support_set_neighbors(queue, query, gallery, args.k)
        indices, sims, labels = nbrs['indices'], nbrs['sims'], nbrs['labels']
        image_idx, image_sims = nbrs['image_indices'], nbrs['image_sims']
    else:
        indices, sims = gallery_knn(query, gallery, args.k)
        labels = gallery_labels[indices]
        image_idx = indices
    image_labels = gallery_labels[image_idx]
    k = indices.shape[1]
    agreement = label_agreement(query_labels, labels)

    notes = None
    ckpt_name = osp.basename(args.checkpoint)
    num_gallery = len(gallery_ds)
    shown = f'{agreement:.0%}' if agreement is not None else 'n/a'
    if source == 'support-set':
        title = (f'NNCLR support-set neighbours ({ckpt_name}): exact '
                 f'queue.nearest, top-{k} of {filled} stored projections; '
                 f'same class: {shown}')
        caption = (
            'Labels and cos are exact: the stored label of each queue row '
            'and its cosine to the query projection (backbone + neck, eval '
            'mode). The queue stores projections, not images: each picture '
            f'is the closest of the first {num_gallery} train images to '
            'the stored projection, "img" = that cosine (mean '
            f'{float(image_sims.mean()):.3f}); "*" = the pictured image is '
            'of another class than the stored label. Frame: green = same '
            'class as the query, red = other class.')
        notes = [[
            f'img {float(image_sims[r, c]):.3f}' +
            ('*' if int(image_labels[r, c]) != int(labels[r, c])
             and int(labels[r, c]) >= 0 else '') for c in range(k)
        ] for r in range(len(query_idx))]
    else:
        title = (f'Nearest neighbours in projection space ({ckpt_name}): '
                 f'top-{k} of the first {num_gallery} train images; '
                 f'same class: {shown}')
        caption = ('Exact kNN by cosine similarity of L2-normalised '
                   'projections (backbone + neck, eval mode); the images '
                   'are the neighbours themselves. Frame: green = same '
                   'class as the query, red = other class.')

    mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
    figure = draw_neighbor_grid(
        query_imgs=[raw_image(query_ds, i) for i in query_idx],
        neighbor_imgs=[[raw_image(gallery_ds, int(j)) for j in row]
                       for row in image_idx],
        neighbor_sims=sims,
        query_labels=query_labels.tolist(),
        neighbor_labels=labels,
        class_names=class_names,
        out_file=args.out,
        title=title,
        caption=caption,
        neighbor_notes=notes)

    results = dict(
        out_file=osp.abspath(args.out),
        source=source,
        k=k,
        num_gallery=num_gallery,
        query_indices=list(query_idx),
        query_labels=query_labels.tolist(),
        neighbor_indices=indices.tolist(),
        neighbor_labels=labels.tolist(),
        neighbor_sims=sims.tolist(),
        image_indices=image_idx.tolist(),
        image_labels=image_labels.tolist(),
        image_sims=None if image_sims is None else image_sims.tolist(),
        label_agreement=agreement,
        queue_filled=filled,
        figure=figure)
    print(f'{source}: {len(query_idx)} queries x {k} neighbours, same class '
          f'{shown}; wrote {results["out_file"]} '
          f'({figure["width"]}x{figure["height"]} px) in '
          f'{time.time() - start:.1f} s')
    return results


if __name__ == '__main__':
    run_cli(main)
