"""CPU cost of the ImageNet SSL views: stock loader vs. crop-only loader.

The stock pipeline of an ImageNet config (mmpretrain's BYOL views: decode,
random resized crop, flip, colour jitter, greyscale, blur, solarize) and
the loader of its ``-gpuaug`` variant (decode, crop, flip; the rest is the
``DeviceViewPreprocessor``) run side by side on the same synthetic JPEGs
of ImageNet's typical size (500 x 375), one thread each, as one data-loader
worker runs them. Their ratio is how many more images one CPU core feeds
the GPU. The device stage (the preprocessor on a batch of ``--batch``
images x 2 views at 224 px) is timed on the CPU and, when present, on
CUDA, where it is also compared with a ResNet-50 training step under AMP
on the same batch.

Writes ``docs/results/speed/data_throughput.json`` and the
``data-throughput`` section of ``docs/benchmarks.md``.

Examples::

    python tools/benchmarks/data_throughput.py
    python tools/benchmarks/data_throughput.py --render   # docs from JSON
    python tools/benchmarks/data_throughput.py --quick --no-docs
"""
import argparse
import json
import os.path as osp
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from benchmark_docs import DOCS, REPO, machine_kind, write_section
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from PIL import Image

import nnclr_plugin  # noqa: F401  (registers DeviceViewPreprocessor)
from nnclr_plugin.evaluation import write_json

STOCK = osp.join(REPO, 'configs', 'nnclr',
                 'nnclr_resnet50_8xb256-lars-coslr-200e_in1k.py')
COMMAND = 'python tools/benchmarks/data_throughput.py'
RATIO_GOAL = 2.5  # images per CPU core, stock / device views
SHARE_GOAL = 0.10  # device stage / ResNet-50 AMP step on a GPU


def variant_of(stock: str) -> str:
    return stock[:-len('.py')] + '-gpuaug.py'


def natural_image(rng: np.random.RandomState, width: int,
                  height: int) -> np.ndarray:
    """Colour gradients, a few shapes and noise: at quality 90 about
    110 KiB per 500 x 375 file, ImageNet's mean file size (140 GB over
    1.28 M training images), so decoding costs what a photo's does."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.zeros((height, width, 3), np.float32)
    for c in range(3):
        fx, fy, phase = rng.uniform(0.002, 0.02, 2).tolist() + [rng.rand()]
        image[..., c] = 128 + 100 * np.sin(fx * x + fy * y + 6.28 * phase)
    for _ in range(6):
        cx, cy = rng.randint(0, width), rng.randint(0, height)
        r = rng.randint(10, min(width, height) // 3)
        mask = (x - cx)**2 + (y - cy)**2 < r * r
        image[mask] = rng.randint(0, 256, 3)
    image += rng.normal(0, 25, image.shape)
    return image.clip(0, 255).astype(np.uint8)


def make_jpegs(folder: str, num: int, seed: int = 0) -> List[str]:
    rng = np.random.RandomState(seed)
    paths = []
    for i in range(num):
        path = osp.join(folder, f'img_{i}.JPEG')
        Image.fromarray(natural_image(rng, 500, 375)).save(path, quality=90)
        paths.append(path)
    return paths


def median_time(fn: Callable[[], None], repeats: int,
                sync: Callable[[], None] = lambda: None) -> float:
    fn()  # warm-up: first calls allocate and load kernels
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pipeline_ms(pipeline: list, paths: List[str], repeats: int) -> float:
    """Median CPU milliseconds per image of ``pipeline`` over ``paths``."""
    transform = Compose(pipeline)

    def run():
        for path in paths:
            transform(dict(img_path=path))

    np.random.seed(0)
    return median_time(run, repeats) * 1000 / len(paths)


def view_batch(batch: int, size: int, device: str) -> dict:
    from mmpretrain.structures import DataSample
    gen = torch.Generator().manual_seed(0)
    views = [torch.randint(0, 256, (batch, 3, size, size), generator=gen,
                           dtype=torch.uint8).to(device) for _ in range(2)]
    return dict(inputs=views, data_samples=[DataSample()] * batch)


def sync_of(device: str) -> Callable[[], None]:
    return torch.cuda.synchronize if device == 'cuda' else (lambda: None)


def device_stage_ms(preprocessor_cfg: dict, batch: int, size: int,
                    device: str, repeats: int) -> float:
    """Median milliseconds of the device stage on one batch."""
    from mmpretrain.registry import MODELS
    preprocessor = MODELS.build(dict(preprocessor_cfg)).to(device)
    data = view_batch(batch, size, device)
    with torch.no_grad():
        return median_time(lambda: preprocessor(dict(data), training=True),
                           repeats, sync_of(device)) * 1000


def device_agreement(device: str, other: str = 'cpu',
                     size: int = 224) -> Dict[str, float]:
    """Largest difference, in 0..255 levels, between each photometric op
    on ``device`` and on ``other`` for the same images and parameters."""
    from nnclr_plugin.models.data_preprocessors import photometric_ops as ops
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (8, 3, size, size), generator=gen).float()
    factor = torch.rand(8, generator=gen) + 0.5
    shift = torch.rand(8, generator=gen) * 0.2 - 0.1
    sigma = torch.rand(8, generator=gen) * 1.9 + 0.1
    cases = dict(
        brightness=(ops.adjust_brightness, factor),
        contrast=(ops.adjust_contrast, factor),
        saturation=(ops.adjust_saturation, factor),
        hue=(ops.adjust_hue, shift), grayscale=(ops.grayscale, ),
        blur=(ops.gaussian_blur, sigma), solarize=(ops.solarize, 128.0))
    diffs = {}
    for name, (op, *params) in cases.items():
        outs = [op(images.to(d), *(p.to(d) if torch.is_tensor(p) else p
                                   for p in params)).cpu()
                for d in (device, other)]
        diffs[name] = float((outs[0] - outs[1]).abs().max())
    return diffs


def r50_step_ms(cfg: Config, batch: int, size: int, device: str,
                repeats: int) -> float:
    """Median milliseconds of one NNCLR ResNet-50 training step (AMP on
    CUDA) on views already made, as the step after the device stage."""
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS
    model_cfg = cfg.model.copy()
    model_cfg.data_preprocessor = dict(
        type='SelfSupDataPreprocessor', mean=[0., 0., 0.], std=[1., 1., 1.])
    model = revert_sync_batchnorm(MODELS.build(model_cfg)).to(device)
    model.init_weights()
    model.train()
    wrapper = cfg.optim_wrapper.copy()
    wrapper.type = 'AmpOptimWrapper' if device == 'cuda' else 'OptimWrapper'
    wrapper.pop('loss_scale', None)
    optim_wrapper = build_optim_wrapper(model, wrapper)
    data = view_batch(batch, size, device)
    data['inputs'] = [v.float() for v in data['inputs']]
    from nnclr_plugin.engine.hooks import find_queues
    for _, queue in find_queues(model):
        queue.enqueue(torch.nn.functional.normalize(
            torch.randn(queue.size, queue.feat_dim, device=device), dim=1))

    def step():
        for _, queue in find_queues(model):  # as SupportSetQueueHook does
            queue.begin_step()
        model.train_step(dict(data), optim_wrapper)
        for _, queue in find_queues(model):
            queue.end_step()

    return median_time(step, repeats, sync_of(device)) * 1000


def measure(args) -> Dict:
    init_default_scope('mmpretrain')
    stock_cfg = Config.fromfile(args.stock)
    variant_cfg = Config.fromfile(variant_of(args.stock))
    stock = stock_cfg.train_dataloader.dataset.pipeline
    crop_only = variant_cfg.train_dataloader.dataset.pipeline
    decode = [stock[0], dict(type='PackInputs')]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        import cv2
        cv2.setNumThreads(1)
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as folder:
        paths = make_jpegs(folder, args.images)
        rows = {name: pipeline_ms(p, paths, args.repeats)
                for name, p in (('decode', decode), ('crop_only', crop_only),
                                ('stock', stock))}
    torch.set_num_threads(threads)
    pre_cfg = variant_cfg.data_preprocessor.to_dict()
    pre_cfg.pop('_delete_', None)
    report = dict(
        command=' '.join([COMMAND] + sys.argv[1:]), machine=machine_kind(),
        stock=osp.relpath(args.stock, REPO),
        variant=osp.relpath(variant_of(args.stock), REPO),
        images=args.images, repeats=args.repeats, batch=args.batch,
        size=args.size, cpu_ms_per_image=rows,
        cores_ratio=rows['stock'] / rows['crop_only'],
        device_ms=dict(cpu=device_stage_ms(pre_cfg, args.batch, args.size,
                                           'cpu', args.repeats)),
        cpu_threads=threads)
    if torch.cuda.is_available():
        report['gpu'] = torch.cuda.get_device_name()
        report['device_ms']['cuda'] = device_stage_ms(
            pre_cfg, args.batch, args.size, 'cuda', args.repeats)
        report['cuda_vs_cpu_levels'] = device_agreement('cuda')
        report['r50_step_ms'] = r50_step_ms(stock_cfg, args.batch, args.size,
                                            'cuda', args.repeats)
        report['device_share'] = (report['device_ms']['cuda'] /
                                  report['r50_step_ms'])
    return report


def render(r: Dict) -> str:
    ms = r['cpu_ms_per_image']
    met = 'met' if r['cores_ratio'] >= RATIO_GOAL else 'NOT met'
    cpu_per_image = r['device_ms']['cpu'] * r['cpu_threads'] / r['batch']
    lines = [
        '## Data throughput: the views on the CPU or on the device', '',
        f'Machine: {r["machine"]}. Synthetic 500 x 375 JPEGs '
        f'({r["images"]}, ~110 KiB each like ImageNet\'s), one thread, '
        f'median of {r["repeats"]} passes; two 224 px views per image. '
        f'Stock: `{r["stock"]}` (mmpretrain\'s BYOL '
        f'views); crop-only: the loader of `{r["variant"]}`, whose '
        '`DeviceViewPreprocessor` makes the colour jitter, greyscale, blur '
        f'and solarize on the batch. Command: `{r["command"]}`.', '',
        '| loader pipeline | CPU ms / image |', '|---|---|',
        f'| decode only | {ms["decode"]:.1f} |',
        f'| decode + 2 x (crop, flip): `-gpuaug` loader | '
        f'{ms["crop_only"]:.1f} |',
        f'| stock (+ jitter, greyscale, blur, solarize) | {ms["stock"]:.1f} |',
        '',
        f'Images per CPU core, stock / device views: '
        f'**{r["cores_ratio"]:.2f}x** (goal >= {RATIO_GOAL}: {met}).', '',
        f'Device stage, {r["batch"]} images x 2 views x {r["size"]} px: '
        f'{r["device_ms"]["cpu"]:.0f} ms on the CPU ({r["cpu_threads"]} '
        f'threads: {cpu_per_image:.1f} ms per image and thread, where the '
        f'loader spends {ms["stock"] - ms["crop_only"]:.1f} ms on the same '
        'four ops: without a GPU, moving them gains nothing)']
    if 'cuda' in r['device_ms']:
        share_met = 'met' if r['device_share'] <= SHARE_GOAL else 'NOT met'
        lines[-1] += (
            f'; {r["device_ms"]["cuda"]:.1f} ms on {r["gpu"]}, '
            f'{100 * r["device_share"]:.1f} % of a ResNet-50 NNCLR AMP step '
            f'on the same batch ({r["r50_step_ms"]:.0f} ms; goal <= '
            f'{100 * SHARE_GOAL:.0f} %: {share_met}). Largest CUDA - CPU '
            'difference per op for the same images and parameters, in '
            '0..255 levels: ' + ', '.join(
                f'{k} {v:.3f}' for k, v in r['cuda_vs_cpu_levels'].items())
            + '.')
    else:
        lines[-1] += '; no GPU on this machine.'
    return '\n'.join(lines) + '\n'


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--stock', default=STOCK,
                        help='stock config; its -gpuaug variant is compared')
    parser.add_argument('--images', type=int, default=64)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--batch', type=int, default=256)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--quick', action='store_true',
                        help='a few images and a small batch (smoke test)')
    parser.add_argument('--out', default=osp.join(DOCS, 'results', 'speed',
                                                  'data_throughput.json'))
    parser.add_argument('--render', action='store_true',
                        help='only rewrite the docs section from --out')
    parser.add_argument('--no-docs', action='store_true')
    args = parser.parse_args(argv)
    if args.render:
        with open(args.out) as f:
            report = json.load(f)
    else:
        if args.quick:
            args.images, args.repeats, args.batch = 4, 1, 4
        report = measure(args)
        print(json.dumps(report, indent=1), flush=True)
    if not args.no_docs:
        write_json(args.out, report)
        print('wrote', args.out,
              write_section('data-throughput', render(report)))
    return report


if __name__ == '__main__':
    main()
