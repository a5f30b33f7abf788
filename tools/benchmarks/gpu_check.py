"""Check the CUDA path of the plugin in a few minutes, and time it.

On a machine with CUDA (``make gpu-check`` sets one up from carried wheels):

1. mmcv's CUDA ops (``nms``, ``RoIAlign``) against their CPU results, when
   the installed mmcv was built with them;
2. a few AMP training steps (``AmpOptimWrapper``, the Runner's wrapper) of
   the paper configs' models on synthetic 224 px input: NNCLR ResNet-50,
   SNCLR ViT-S/16, NN-BYOL ResNet-50; losses finite, support set on the
   GPU and filled;
3. the losses and the support-set lookup on fixed inputs, CPU vs CUDA in
   float32 (tolerances in ``TOLERANCES``);
4. lookup time at Q = 98,304, B = 4,096, d = 256 (k = 1 and 30, blocked
   and full), training-step time and ``torch.cuda.max_memory_allocated``.

It writes ``gpu_check.json`` and ``gpu_check.md`` into ``--out-dir``;
``--to-docs gpu_check.json`` later puts a run's figures into the
``gpu-check`` section of ``docs/benchmarks.md``. On a machine without CUDA
it says so and exits 0; ``--device cpu`` runs every part on the CPU instead
(what the test suite does, at a small size).

Example::

    python tools/benchmarks/gpu_check.py --out-dir work_dirs/gpu_check
"""
# First: registers the components and mutes mmengine's pkg_resources warning.
import nnclr_plugin  # noqa: F401,I001

import argparse
import copy
import json
import math
import os
import os.path as osp
import platform
import statistics
import time
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from nnclr_plugin.engine.hooks import find_queues
from nnclr_plugin.models.losses import (nn_contrastive_loss,
                                        soft_neighbor_contrastive_loss)
from nnclr_plugin.models.memories import SupportSetQueue

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODELS_TO_STEP = {
    'nnclr_r50': 'configs/nnclr/nnclr_resnet50_8xb256-lars-coslr-200e_in1k.py',
    'snclr_vit-s':
    'configs/snclr/snclr_vit-small-p16_16xb256-amp-coslr-300e_in1k.py',
    'nn-byol_r50':
    'configs/composed/nn-byol_resnet50_16xb256-coslr-200e_in1k.py',
}
# float32 on both devices; reductions run in another order on a GPU.
TOLERANCES = dict(loss_rtol=1e-5, loss_atol=1e-5, sim_atol=1e-5)


def within(a: float, b: float, rtol: float, atol: float) -> bool:
    """``|a - b| <= atol + rtol * |b|`` (numpy's ``isclose``)."""
    return abs(a - b) <= atol + rtol * abs(b)


def fixed_inputs(seed: int = 0, batch: int = 64, dim: int = 128,
                 rows: int = 2048, k: int = 30) -> Dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return dict(
        pos=torch.randn(batch, dim, generator=gen),
        pred=torch.randn(batch, dim, generator=gen),
        cands=F.normalize(torch.randn(batch, k, dim, generator=gen), dim=-1),
        weights=torch.softmax(torch.randn(batch, k, generator=gen), dim=1),
        bank=torch.randn(rows, dim, generator=gen))


def compute_on(device: str, inputs: Dict[str, torch.Tensor],
               k: int = 30) -> Dict[str, torch.Tensor]:
    """The losses and lookups of the plugin on ``device`` (float32)."""
    x = {n: t.to(device) for n, t in inputs.items()}
    # float32 on both: the CPU == device comparison is of one computation.
    queue = SupportSetQueue(size=x['bank'].shape[0],
                            feat_dim=x['bank'].shape[1],
                            block_size=512).to(device)
    queue.enqueue(x['bank'])
    top1 = queue.nearest(x['pos'], 1)
    topk = queue.nearest(x['pos'], k)
    return dict(
        nn_loss=nn_contrastive_loss(x['pos'], x['pred'], 0.1),
        soft_loss=soft_neighbor_contrastive_loss(x['pred'], x['pos'],
                                                 x['cands'], x['weights'],
                                                 0.2, True),
        top1_idx=top1.indices, top1_sim=top1.sims,
        topk_idx=topk.indices, topk_sim=topk.sims)


def compare(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor],
            tol: Dict[str, float] = TOLERANCES) -> Dict[str, Dict]:
    """Per-quantity difference of two :func:`compute_on` results."""
    out = {}
    for name in ('nn_loss', 'soft_loss'):
        va, vb = float(a[name]), float(b[name])
        out[name] = dict(a=va, b=vb, abs_diff=abs(va - vb),
                         ok=within(va, vb, tol['loss_rtol'],
                                   tol['loss_atol']))
    for name in ('top1', 'topk'):
        same = torch.equal(a[f'{name}_idx'].cpu(), b[f'{name}_idx'].cpu())
        diff = float((a[f'{name}_sim'].cpu() -
                      b[f'{name}_sim'].cpu()).abs().max())
        out[name] = dict(same_indices=same, max_sim_diff=diff,
                         ok=same and diff <= tol['sim_atol'])
    return out


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def median_time(fn: Callable[[], object], device: str, repeats: int = 5,
                warmup: int = 2) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def time_lookup(device: str, rows: int, batch: int, dim: int,
                repeats: int = 5) -> List[Dict]:
    """Lookup time and extra memory, blocked vs full, k = 1 and 30."""
    gen = torch.Generator().manual_seed(0)
    bank = torch.randn(rows, dim, generator=gen)
    query = torch.randn(batch, dim, generator=gen).to(device)
    results, exact = [], {}
    # The full matrix (the reference), fixed blocks and the default 'auto'
    # blocks (sized by the batch): `changed` is the share of queries whose
    # neighbours differ from the full matrix's.
    for block in (None, 8192, 'auto'):
        queue = SupportSetQueue(rows, dim, block_size=block).to(device)
        queue.enqueue(bank.to(device))
        for k in (1, 30):
            if device.startswith('cuda'):
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
            ms = median_time(lambda: queue.nearest(query, k), device,
                             repeats)
            extra = (torch.cuda.max_memory_allocated() - base) / 2**20 \
                if device.startswith('cuda') else None
            row = dict(rows=rows, batch=batch, dim=dim, k=k,
                       block_size=block, ms=ms, extra_mib=extra)
            found = queue.nearest(query, k).indices.sort(dim=1).values
            if block is None:
                exact[k] = found
            else:
                row.update(changed_share=float(
                    (found != exact[k]).any(dim=1).float().mean()))
            results.append(row)
    return results


def build_step_model(config: str, device: str, img_size: int) -> tuple:
    """A paper config's model (SyncBN reverted) and its optim wrapper."""
    cfg = Config.fromfile(osp.join(REPO, config))
    init_default_scope('mmpretrain')
    model_cfg = copy.deepcopy(cfg.model)
    backbone = model_cfg.backbone
    if 'img_size' in backbone:
        backbone.img_size = img_size
    model = revert_sync_batchnorm(MODELS.build(model_cfg)).to(device)
    model.init_weights()
    model.train()
    amp = device.startswith('cuda')
    wrapper_cfg = dict(
        type='AmpOptimWrapper' if amp else 'OptimWrapper',
        optimizer=copy.deepcopy(cfg.optim_wrapper.optimizer))
    if amp:
        wrapper_cfg['dtype'] = 'float16'
    return model, build_optim_wrapper(model, wrapper_cfg)


def training_steps(name: str, config: str, device: str, steps: int,
                   batch: int, img_size: int) -> Dict:
    """A few optimiser steps on synthetic images; what was observed."""
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    model, wrapper = build_step_model(config, device, img_size)
    # BYOL's CosineEMA reads the schedule length from the message hub.
    from mmengine.logging import MessageHub
    MessageHub.get_current_instance().update_info('max_iters', steps)
    gen = torch.Generator().manual_seed(0)
    data = dict(inputs=[
        torch.randint(0, 256, (batch, 3, img_size, img_size), generator=gen,
                      dtype=torch.uint8) for _ in range(2)
    ], data_samples=None)
    losses, times = [], []
    for step in range(steps):
        MessageHub.get_current_instance().update_info('iter', step)
        _sync(device)
        start = time.perf_counter()
        for _, queue in find_queues(model):  # as SupportSetQueueHook does
            queue.begin_step()
        log_vars = model.train_step(copy.deepcopy(data), wrapper)
        for _, queue in find_queues(model):
            queue.end_step()
        _sync(device)
        times.append((time.perf_counter() - start) * 1000)
        losses.append(float(log_vars['loss']))
    queues = find_queues(model)
    return dict(
        model=name, config=config, device=device, steps=steps, batch=batch,
        img_size=img_size, optim_wrapper=type(wrapper).__name__,
        losses=losses, finite=all(math.isfinite(v) for v in losses),
        queue_devices=sorted({str(q.queue.device) for _, q in queues}),
        queue_filled=[q.filled for _, q in queues],
        step_ms_median=statistics.median(times[1:] or times),
        max_memory_mib=torch.cuda.max_memory_allocated() / 2**20
        if device.startswith('cuda') else None)


def mmcv_ops_check(device: str) -> Dict:
    """mmcv's nms and RoIAlign on ``device`` against the CPU."""
    try:
        from mmcv.ops import RoIAlign, nms
        from mmcv.utils import ext_loader
        ext = ext_loader.load_ext('_ext', ['nms'])
    except Exception as err:  # an ops-free mmcv ("mmcv-lite")
        return dict(ok=None, skipped=f'mmcv ops unavailable: {err}')
    del ext
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.],
                          [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    try:
        _, keep_dev = nms(boxes.to(device), scores.to(device), 0.5)
    except Exception as err:
        return dict(ok=False, error=f'nms on {device}: {err}')
    _, keep_cpu = nms(boxes, scores, 0.5)
    feats = torch.arange(64.).view(1, 1, 8, 8)
    rois = torch.tensor([[0., 1., 1., 5., 5.]])
    align = RoIAlign((2, 2), 1.0, 2)
    same_align = torch.allclose(align(feats.to(device), rois.to(device)).cpu(),
                                align(feats, rois), atol=1e-5)
    return dict(ok=torch.equal(keep_dev.cpu(), keep_cpu) and same_align,
                nms_keep=keep_dev.cpu().tolist(), roi_align_equal=same_align)


def to_markdown(report: Dict) -> str:
    lines = [f'### GPU check on {report["device_name"]}', '',
             f'torch {report["torch"]}, CUDA {report["cuda"]}, '
             f'{report["machine"]}', '', '#### CPU vs device (float32)', '',
             '| quantity | result | ok |', '|---|---|---|']
    for name, row in report['compare'].items():
        detail = ', '.join(f'{k}={v:.3g}' if isinstance(v, float) else
                           f'{k}={v}' for k, v in row.items() if k != 'ok')
        lines.append(f'| {name} | {detail} | {row["ok"]} |')
    lines += ['', '#### Training steps', '',
              '| model | wrapper | finite | queue device | filled | step ms '
              '| max MiB |', '|---|---|---|---|---|---|---|']
    for row in report['steps']:
        lines.append(
            f'| {row["model"]} | {row["optim_wrapper"]} | {row["finite"]} | '
            f'{",".join(row["queue_devices"])} | {row["queue_filled"]} | '
            f'{row["step_ms_median"]:.1f} | {_mib(row["max_memory_mib"])} |')
    lines += ['', '#### Support-set lookup', '',
              'Blocked rows also give time and extra memory as a ratio to '
              'the full score matrix of the same k.', '',
              '| Q | B | d | k | block | ms | extra MiB | '
              'time / full | memory / full | changed |',
              '|---|---|---|---|---|---|---|---|---|---|']
    full = {r['k']: r for r in report['lookup'] if r['block_size'] is None}
    for row in report['lookup']:
        ref = full.get(row['k'])
        ratios = ['—', '—']
        if row['block_size'] is not None and ref is not None:
            ratios[0] = f'{row["ms"] / ref["ms"]:.2f}'
            if row['extra_mib'] is not None and ref['extra_mib']:
                ratios[1] = f'{row["extra_mib"] / ref["extra_mib"]:.2f}'
        changed = row.get('changed_share')
        ratios.append('—' if changed is None else f'{changed:.1%}')
        lines.append(f'| {row["rows"]} | {row["batch"]} | {row["dim"]} | '
                     f'{row["k"]} | {row["block_size"]} | '
                     f'{row["ms"]:.2f} | '
                     f'{_mib(row["extra_mib"])} | ' + ' | '.join(ratios) +
                     ' |')
    ops = report['mmcv_ops']
    if ops.get('ok') is None:
        ops_line = (f'mmcv ops: not checked ({ops.get("skipped")}); the '
                    'carried mmcv is the ops-free build.')
    else:
        ops_line = f'mmcv ops (nms, RoIAlign) vs CPU: {ops}'
    lines += ['', ops_line, '']
    return '\n'.join(lines)


def _mib(value: Optional[float]) -> str:
    return '—' if value is None else f'{value:.0f}'


def run(device: str, out_dir: str, steps: int, batch: int, img_size: int,
        lookup_rows: int, lookup_batch: int, models: List[str]) -> Dict:
    report = dict(
        device=device,
        device_name=torch.cuda.get_device_name() if device.startswith(
            'cuda') else platform.processor() or 'cpu',
        torch=torch.__version__, cuda=torch.version.cuda,
        machine=f'{platform.machine()}, {os.cpu_count()} cores',
        tolerances=TOLERANCES)
    inputs = fixed_inputs()
    report['compare'] = compare(compute_on('cpu', inputs),
                                compute_on(device, inputs))
    report['mmcv_ops'] = mmcv_ops_check(device)
    report['steps'] = [
        training_steps(name, MODELS_TO_STEP[name], device, steps, batch,
                       img_size) for name in models
    ]
    report['lookup'] = time_lookup(device, lookup_rows, lookup_batch, 256)
    report['ok'] = all(r['ok'] for r in report['compare'].values()) and all(
        r['finite'] and all(f > 0 for f in r['queue_filled'])
        for r in report['steps']) and report['mmcv_ops'].get('ok') is not \
        False
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, 'gpu_check.json'), 'w') as f:
        json.dump(report, f, indent=1)
    with open(osp.join(out_dir, 'gpu_check.md'), 'w') as f:
        f.write(to_markdown(report))
    return report


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--out-dir', default=osp.join(REPO, 'work_dirs',
                                                      'gpu_check'))
    parser.add_argument('--steps', type=int, default=4)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--lookup-rows', type=int, default=98304)
    parser.add_argument('--lookup-batch', type=int, default=4096)
    parser.add_argument('--models', nargs='+', default=list(MODELS_TO_STEP))
    parser.add_argument(
        '--to-docs', metavar='JSON',
        help='only write the gpu_check.json of a GPU run (e.g. fetched '
        'from the device machine) into docs/benchmarks.md and exit')
    parser.add_argument('--docs-dir', help='folder of benchmarks.md '
                        '(default: the repository\'s docs/)')
    args = parser.parse_args(argv)
    if args.to_docs:
        from benchmark_docs import DOCS, write_section
        with open(args.to_docs) as f:
            report = json.load(f)
        print('wrote', write_section('gpu-check', to_markdown(report),
                                     args.docs_dir or DOCS))
        return 0
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        print('No CUDA device here: gpu_check checks the CUDA path and has '
              'nothing to do (run it with --device cpu to exercise it on '
              'the CPU).')
        return 0
    report = run(args.device, args.out_dir, args.steps, args.batch,
                 args.img_size, args.lookup_rows, args.lookup_batch,
                 args.models)
    print(to_markdown(report))
    print('gpu_check:', 'OK' if report['ok'] else 'FAILED')
    return 0 if report['ok'] else 1


if __name__ == '__main__':
    raise SystemExit(main())
