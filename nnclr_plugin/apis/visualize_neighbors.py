"""Draw the nearest neighbours of test images in a checkpoint's projection
space, as a PNG grid (one row per query).

Two neighbour sources:

* ``support-set`` (default when the model has a non-empty
  ``SupportSetQueue``): the neighbours NNCLR itself would use, exactly:
  ``queue.nearest`` on the restored queue, the stored labels, and the
  stored images: every row keeps the dataset index of the sample it came
  from (``queue.sample_idx``), so the picture is that training image of the
  data config's ``train_dataloader`` (which must be the pretraining
  dataset, in the same order; the stored labels are checked against it).
* ``dataset``: exact kNN over the projections of the first
  ``--max-gallery`` training images.

Example::

    python tools/analysis_tools/visualize_neighbors.py \\
        configs/demo/nnclr_resnet18-c32_1xb128-coslr-300it_fashion-mnist.py \\
        work_dirs/nnclr/iter_300.pth --out neighbors.png
"""
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

from nnclr_plugin.engine.hooks import find_queues
from nnclr_plugin.evaluation import extract_features, iter_batches
from nnclr_plugin.models.memories import label_agreement
from nnclr_plugin.models.memories.cosine_topk import topk_inner_product
from nnclr_plugin.utils import build_model_from_config, resolve_config_path
from nnclr_plugin.utils.cli import picture_parser
from nnclr_plugin.visualization import draw_neighbor_grid, select_queries

SOURCES = ('support-set', 'dataset')


def parse_args(argv: Optional[List[str]] = None,
               default_data_config: Optional[str] = None
               ) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``;
    ``default_data_config`` None makes ``--data-config`` required)."""
    parser = picture_parser(
        'PNG grid of the nearest neighbours of test images in the '
        'projection space of a checkpoint (support set or dataset)',
        'model config (e.g. an NNCLR config)', 'checkpoint of that model')
    parser.add_argument(
        '--data-config',
        default=default_data_config,
        required=default_data_config is None,
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
        help='--source dataset: search the first N train images '
        '(default: %(default)s)')
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


def build_datasets(args: argparse.Namespace, max_gallery: Optional[int]):
    """The train (first ``max_gallery`` images, or all) and query (whole
    val split) datasets of ``args.data_config``."""
    from mmpretrain.registry import DATASETS

    data_cfg = Config.fromfile(resolve_config_path(args.data_config))
    datasets = []
    for name, indices in (('train_dataloader', max_gallery),
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


def stored_images(queue, indices: torch.Tensor, train_ds,
                  checkpoint: str) -> torch.Tensor:
    """Dataset indices of the queue rows ``indices``, checked against the
    data config's training set."""
    sample_idx = queue.sample_idx.cpu()[indices]
    if bool((sample_idx < 0).any()):
        raise ValueError(
            f'The support set of {checkpoint} does not store the dataset '
            'index of every row (a checkpoint from before sample indices '
            'were kept, or a pipeline whose PackInputs drops sample_idx); '
            'use --source dataset')
    if int(sample_idx.max()) >= len(train_ds):
        raise ValueError(
            f'The support set stores dataset index {int(sample_idx.max())} '
            f'but the train split of --data-config has {len(train_ds)} '
            'images: it must be the dataset the model was pretrained on')
    stored = queue.labels.cpu()[indices]
    actual = torch.as_tensor(train_ds.get_gt_labels())[sample_idx]
    known = stored >= 0
    if not torch.equal(stored[known], actual[known]):
        raise ValueError(
            'The labels stored in the support set do not match the images '
            'at their dataset indices: --data-config must name the dataset '
            'the model was pretrained on, in the same order')
    return sample_idx


def main(argv: Optional[List[str]] = None,
         default_data_config: Optional[str] = None) -> Dict:
    """Draw the grid; returns what was drawn.

    Args:
        argv (List[str], optional): Command-line arguments without the
            program name. Defaults to ``sys.argv[1:]``.
        default_data_config (str, optional): ``--data-config`` when the
            command line has none (the tool in ``tools/analysis_tools/``
            passes the repository's Fashion-MNIST one). Defaults to None:
            the option is required.

    Returns:
        dict: ``out_file``, ``source``, ``k`` (after clipping),
        ``query_indices`` (into the val split), ``query_labels``,
        ``neighbor_indices`` (queue rows for ``support-set``, train indices
        for ``dataset``), ``neighbor_labels``, ``neighbor_sims``,
        ``image_indices`` (train index of every shown image),
        ``label_agreement`` (share of shown neighbours of the query's class,
        None if no label is known), ``queue_filled`` and ``figure`` (PNG
        size and grid shape). Nested lists are plain Python lists.
    """
    args = parse_args(argv, default_data_config)
    start = time.time()
    _, model = build_model_from_config(args.config)
    # Restores the support-set buffers (rows, labels, sample indices) too.
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.to(args.device)
    queues = find_queues(model)
    queue = queues[0][1] if queues else None
    filled = 0 if queue is None else queue.filled
    source = args.source or ('support-set' if filled else 'dataset')
    if source == 'support-set' and not filled:
        raise ValueError(
            f'--source support-set: {args.checkpoint} has '
            + ('no SupportSetQueue' if queue is None else 'an empty support '
               'set') + '; use --source dataset')

    train_ds, query_ds = build_datasets(
        args, None if source == 'support-set' else args.max_gallery)
    class_names = list(query_ds.metainfo.get('classes') or [])
    query_idx = select_queries(query_ds.get_gt_labels(), args.num_queries,
                               args.seed)
    query, query_labels = extract_features(
        model, iter_batches(query_ds, query_idx, args.batch_size),
        projection=True)

    ckpt_name = osp.basename(args.checkpoint)
    if source == 'support-set':
        nbrs = queue.nearest(query.to(queue.queue.device), args.k)
        indices, sims = nbrs.indices.cpu(), nbrs.sims.float().cpu()
        labels = queue.labels.cpu()[indices]
        image_idx = stored_images(queue, indices, train_ds, args.checkpoint)
    else:
        gallery, gallery_labels = extract_features(
            model, iter_batches(train_ds, range(len(train_ds)),
                                args.batch_size), projection=True)
        sims, indices = topk_inner_product(query, gallery,
                                           min(args.k, len(gallery)))
        labels = gallery_labels[indices]
        image_idx = indices
    k = indices.shape[1]
    agreement = label_agreement(query_labels, labels)
    shown = f'{agreement:.0%}' if agreement is not None else 'n/a'
    if source == 'support-set':
        title = (f'NNCLR support-set neighbours ({ckpt_name}): exact '
                 f'queue.nearest, top-{k} of {filled} stored projections; '
                 f'same class: {shown}')
        caption = ('Each neighbour is the training image whose projection '
                   'the support set stores, with its stored label and its '
                   'cosine to the query projection (backbone + neck, eval '
                   'mode). Frame: green = same class as the query, red = '
                   'other class.')
    else:
        title = (f'Nearest neighbours in projection space ({ckpt_name}): '
                 f'top-{k} of the first {len(train_ds)} train images; '
                 f'same class: {shown}')
        caption = ('Exact kNN by cosine similarity of L2-normalised '
                   'projections (backbone + neck, eval mode). Frame: green '
                   '= same class as the query, red = other class.')

    mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
    figure = draw_neighbor_grid(
        query_imgs=[raw_image(query_ds, i) for i in query_idx],
        neighbor_imgs=[[raw_image(train_ds, int(j)) for j in row]
                       for row in image_idx],
        neighbor_sims=sims,
        query_labels=query_labels.tolist(),
        neighbor_labels=labels,
        class_names=class_names,
        out_file=args.out,
        title=title,
        caption=caption)

    results = dict(
        out_file=osp.abspath(args.out),
        source=source,
        k=k,
        query_indices=list(query_idx),
        query_labels=query_labels.tolist(),
        neighbor_indices=indices.tolist(),
        neighbor_labels=labels.tolist(),
        neighbor_sims=sims.tolist(),
        image_indices=image_idx.tolist(),
        label_agreement=agreement,
        queue_filled=filled,
        figure=figure)
    print(f'{source}: {len(query_idx)} queries x {k} neighbours, same class '
          f'{shown}; wrote {results["out_file"]} '
          f'({figure["width"]}x{figure["height"]} px) in '
          f'{time.time() - start:.1f} s')
    return results
