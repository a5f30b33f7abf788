"""Draw what a downstream (transfer) checkpoint predicts: segmentation masks
or detection boxes on a few images, as one PNG.

The config's ``default_scope`` decides the task: ``mmseg`` configs
(configs/benchmarks/mmsegmentation) are run with ``mmseg.apis.init_model`` /
``inference_model`` and drawn by mmseg's ``SegLocalVisualizer``; ``mmdet``
configs (configs/benchmarks/mmdetection) with ``init_detector`` /
``inference_detector`` and ``DetLocalVisualizer``. Each row shows an input
image and, beside it, the prediction drawn over it with the class names and
palette stored in the checkpoint (``meta.dataset_meta``, saved by the
Runner).

Images are ``--images`` files, or else the first ``--num-images`` of the
config's test set (``--cfg-options test_dataloader.dataset.data_root=...``
points it at your copy).

Example::

    CFG=configs/benchmarks/mmsegmentation
    python tools/analysis_tools/visualize_downstream.py \\
        $CFG/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py \\
        work_dirs/benchmarks/fcn_voc/iter_20000.pth --out fcn_voc.png
"""
import argparse
import copy
import os.path as osp
import time
from typing import Callable, List, Optional, Tuple

import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import mkdir_or_exist
from PIL import Image

from nnclr_plugin.utils import resolve_config_path
from nnclr_plugin.utils.checkpoint_files import require_readable
from nnclr_plugin.utils.cli import add_cfg_options, picture_parser

TASKS = ('mmseg', 'mmdet')
PANEL_HEIGHT = 256


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = picture_parser(
        'PNG of the masks or boxes a segmentation / detection checkpoint '
        'predicts on a few images', 'mmseg or mmdet downstream config',
        'checkpoint trained with it')
    parser.add_argument(
        '--images', nargs='+', default=None,
        help='image files (default: the first --num-images of the test set)')
    parser.add_argument('--num-images', type=int, default=4,
                        help='test-set images to draw (default: %(default)s)')
    parser.add_argument(
        '--score-thr', type=float, default=0.3,
        help='detection: smallest score drawn (default: %(default)s)')
    parser.add_argument('--device', default='cpu',
                        help='device to run on (default: %(default)s)')
    add_cfg_options(
        parser, 'config overrides, e.g. test_dataloader.dataset.data_root=DIR')
    return parser.parse_args(argv)


def load_config(path: str, options: Optional[dict]) -> Config:
    """The config with ``options`` merged; raises unless it is mmseg's or
    mmdet's."""
    cfg = Config.fromfile(resolve_config_path(path))
    if options:
        cfg.merge_from_dict(options)
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        raise ValueError(
            f'{path}: default_scope={scope!r}; visualize_downstream draws '
            f'the predictions of {" or ".join(TASKS)} configs (segmentation '
            'or detection transfer)')
    return cfg


def test_images(cfg: Config, count: int) -> List[str]:
    """Paths of the first ``count`` images of ``cfg``'s test set."""
    from mmengine.registry import DATASETS
    if count < 1:
        raise ValueError(f'--num-images must be at least 1, got {count}')
    init_default_scope(cfg.default_scope)
    dataset_cfg = cfg.test_dataloader.dataset
    root = dataset_cfg.get('data_root')
    hint = ('Point it at your copy with --cfg-options '
            'test_dataloader.dataset.data_root=DIR, or pass --images')
    if root and not osp.isdir(root):
        raise FileNotFoundError(
            f'test_dataloader.dataset.data_root={root!r} does not exist. '
            + hint)
    try:
        dataset = DATASETS.build(dataset_cfg)
    except (AssertionError, OSError) as err:
        # mmseg asserts on a missing ann_file / image folder.
        raise FileNotFoundError(
            f'test_dataloader.dataset (data_root={root!r}) could not be '
            f'read: {err}. ' + hint) from err
    if len(dataset) == 0:
        raise ValueError('test_dataloader.dataset is empty (data_root='
                         f'{root!r}); pass --images')
    return [dataset.get_data_info(i)['img_path']
            for i in range(min(count, len(dataset)))]


def predictor(cfg: Config, checkpoint: str, device: str,
              score_thr: float) -> Callable[[str, np.ndarray], np.ndarray]:
    """A function ``(path, rgb image) -> rgb image with the prediction``."""
    # Visualizers are mmengine ManagerMixin instances: a fresh name lets one
    # process draw several checkpoints.
    name = f'visualize_downstream_{time.monotonic_ns()}'
    if cfg.default_scope == 'mmseg':
        from mmseg.apis import inference_model as infer
        from mmseg.apis import init_model
        from mmseg.visualization import SegLocalVisualizer

        # mmseg's inference reads the top-level test_pipeline; use the one
        # tools/test.py evaluates with, --cfg-options included.
        cfg.test_pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
        model = init_model(cfg, device=device)
        visualizer = SegLocalVisualizer(name=name, alpha=0.6)
        draw_options = dict(with_labels=True)
    else:
        from mmdet.apis import inference_detector as infer
        from mmdet.apis import init_detector
        from mmdet.visualization import DetLocalVisualizer
        model = init_detector(cfg, device=device)
        visualizer = DetLocalVisualizer(name=name)
        draw_options = dict(pred_score_thr=score_thr)

    def run(path: str, image: np.ndarray) -> np.ndarray:
        visualizer.add_datasample('prediction', image, infer(model, path),
                                  draw_gt=False, show=False, **draw_options)
        return visualizer.get_image()

    model.dataset_meta = load_weights(model, checkpoint, cfg)
    visualizer.dataset_meta = model.dataset_meta
    return run


def load_weights(model, checkpoint: str, cfg: Config) -> dict:
    """Load ``checkpoint`` into ``model``; returns its class names and
    palette.

    The Runner stores the training set's ``metainfo`` as
    ``meta.dataset_meta``; for a concatenated set (VOC07+12, VOC12aug) that
    can be one dict per part, which mmdet's ``init_detector`` cannot read.
    Without one, the test set's class defines them.
    """
    from mmengine.registry import DATASETS
    from mmengine.runner import load_checkpoint
    state = load_checkpoint(model, checkpoint, map_location='cpu')
    meta = state.get('meta', {}).get('dataset_meta')
    if isinstance(meta, (list, tuple)):
        meta = meta[0] if meta else None
    if not meta:
        dataset_cls = DATASETS.get(cfg.test_dataloader.dataset.type)
        meta = dict(getattr(dataset_cls, 'METAINFO', {}))
    return meta


def side_by_side(images: List[np.ndarray],
                 height: int = PANEL_HEIGHT) -> np.ndarray:
    """The images scaled to one ``height`` and put next to each other."""
    scaled = []
    for image in images:
        width = max(1, round(image.shape[1] * height / image.shape[0]))
        scaled.append(np.asarray(
            Image.fromarray(image).resize((width, height), Image.BILINEAR)))
    return np.concatenate(scaled, axis=1)


def stack_rows(rows: List[np.ndarray]) -> np.ndarray:
    """Rows of possibly different widths, left-aligned on white."""
    width = max(row.shape[1] for row in rows)
    padded = [
        np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)),
               constant_values=255) for row in rows
    ]
    return np.concatenate(padded, axis=0)


def visualize(cfg: Config, checkpoint: str, images: List[str], out: str,
              device: str = 'cpu',
              score_thr: float = 0.3) -> Tuple[int, int]:
    """Write the PNG; returns its (width, height)."""
    run = predictor(cfg, checkpoint, device, score_thr)
    rows = []
    for path in images:
        if not osp.isfile(path):
            raise FileNotFoundError(f'--images: no file {path}')
        image = np.asarray(Image.open(path).convert('RGB'))
        rows.append(side_by_side([image, run(path, image)]))
    grid = stack_rows(rows)
    mkdir_or_exist(osp.dirname(osp.abspath(out)))
    Image.fromarray(grid).save(out)
    return grid.shape[1], grid.shape[0]


def main(argv: Optional[List[str]] = None) -> str:
    """Command-line entry point; returns the PNG path."""
    args = parse_args(argv)
    require_readable(args.checkpoint, 'checkpoint')
    cfg = load_config(args.config, args.cfg_options)
    images = args.images or test_images(cfg, args.num_images)
    width, height = visualize(cfg, args.checkpoint, images, args.out,
                              args.device, args.score_thr)
    print(f'{len(images)} images, {cfg.default_scope} predictions: '
          f'{args.out} ({width} x {height})')
    return args.out
