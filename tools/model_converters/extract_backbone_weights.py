"""Extract the backbone of a self-supervised pretrain checkpoint.

Works on any checkpoint this plugin's Runner writes (NNCLR, SNCLR / MoCo v3,
the ``configs/composed`` algorithms): their ``state_dict`` holds the online
backbone under ``backbone.`` next to the neck, the head (support set
included) and, for momentum methods, a momentum backbone
(``momentum_encoder.module.0.`` for MoCo v3 / SNCLR, ``target_net.module.0.``
for BYOL). The output is ``{'state_dict': ..., 'meta': ...}`` whose keys
have the prefix removed, in one of three naming schemes:

* ``mmpretrain`` (default): the names of the mmpretrain / mmdet module.
  Downstream configs load it with
  ``init_cfg=dict(type='Pretrained', checkpoint=OUT)`` and **no** ``prefix``
  (mmengine's ``PretrainedInit`` with ``prefix='backbone.'`` keeps only the
  keys that start with the prefix, and this file has none).
* ``torchvision-resnet50``: ``torchvision.models.resnet50`` names, checked
  against a freshly built torchvision model (everything but ``fc.*``).
  mmpretrain's ResNet already uses torchvision's names (that is why mmdet
  can load ``torchvision://resnet50``), so this only adds the check.
* ``timm-vit``: timm ``VisionTransformer`` names (``vit_small_patch16_224``,
  ``vit_base_patch16_224``, ...) for an mmpretrain ``VisionTransformer`` /
  ``MoCoV3ViT`` with a class token and a final norm; the classifier
  ``head.*`` is not written.

Example::

    python tools/model_converters/extract_backbone_weights.py \\
        work_dirs/nnclr_r50/epoch_200.pth work_dirs/nnclr_r50/backbone.pth
    # the momentum (key) encoder of an SNCLR / MoCo v3 run instead:
    python tools/model_converters/extract_backbone_weights.py \\
        epoch_300.pth backbone_momentum.pth --key momentum_encoder.module.0.
"""
# First: registers the components, allow-lists checkpoint globals and
# mutes mmengine's import-time pkg_resources warning.
import nnclr_plugin  # noqa: F401,I001

import argparse
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.utils import mkdir_or_exist

from nnclr_plugin.utils.checkpoint_files import read_checkpoint
from nnclr_plugin.utils.user_errors import run_cli

FORMATS = ('mmpretrain', 'torchvision-resnet50', 'timm-vit')

# A checkpoint written from a DDP-wrapped model by other code; mmengine's
# own loaders strip this prefix too.
_DDP_PREFIX = re.compile(r'^module\.')

# Keys found right under the root of a ResNet / ViT backbone; they name the
# prefixes that hold a whole backbone when ``--key`` matches nothing.
_BACKBONE_MARKERS = ('layer1.0.conv1.weight', 'patch_embed.projection.weight')

# mmpretrain VisionTransformer -> timm VisionTransformer, first match wins.
_TIMM_VIT_RULES: List[Tuple[str, str]] = [
    (r'^cls_token$', 'cls_token'),
    (r'^pos_embed$', 'pos_embed'),
    (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
    (r'^layers\.(\d+)\.ln1\.', r'blocks.\1.norm1.'),
    (r'^layers\.(\d+)\.attn\.qkv\.', r'blocks.\1.attn.qkv.'),
    (r'^layers\.(\d+)\.attn\.proj\.', r'blocks.\1.attn.proj.'),
    (r'^layers\.(\d+)\.ln2\.', r'blocks.\1.norm2.'),
    (r'^layers\.(\d+)\.ffn\.layers\.0\.0\.', r'blocks.\1.mlp.fc1.'),
    (r'^layers\.(\d+)\.ffn\.layers\.1\.', r'blocks.\1.mlp.fc2.'),
    # With the default out_type='cls_token', mmpretrain's final norm is
    # `ln1`; timm applies its `norm` to the class token the same way.
    (r'^ln1\.', 'norm.'),
]

# Scalar fields of the Runner's checkpoint meta worth keeping as provenance.
_META_FIELDS = ('epoch', 'iter', 'seed', 'experiment_name', 'time',
                'mmengine_version', 'mmengine')


def load_pretrain_state_dict(filename: str) -> Tuple[Dict, Dict]:
    """Read a checkpoint's state dict and meta.

    Args:
        filename (str): Anything mmengine's ``CheckpointLoader`` reads (local
            path, URL, ``s3://``...).

    Returns:
        tuple[dict, dict]: The state dict (``module.`` prefixes of a
        DDP-wrapped save removed) and the checkpoint's ``meta`` (empty when
        the file is a bare state dict).
    """
    checkpoint = read_checkpoint(filename, 'input checkpoint')
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{filename} does not hold a dict but a '
                         f'{type(checkpoint).__name__}')
    state_dict = checkpoint.get('state_dict', checkpoint)
    meta = checkpoint.get('meta') or {}
    return OrderedDict(
        (_DDP_PREFIX.sub('', k), v) for k, v in state_dict.items()
        if isinstance(v, torch.Tensor)), meta


def select_prefix(state_dict: Dict[str, torch.Tensor],
                  key: str) -> 'OrderedDict[str, torch.Tensor]':
    """The tensors under ``key``, with ``key`` removed from their names.

    Args:
        state_dict (dict): A full model state dict.
        key (str): Prefix of the sub-module, e.g. ``'backbone.'``. A missing
            trailing dot is added, so ``backbone`` cannot also match
            ``backbone2.*``.

    Returns:
        OrderedDict: The sub-module's state dict.
    """
    if not key.endswith('.'):
        key += '.'
    selected = OrderedDict((k[len(key):], v) for k, v in state_dict.items()
                           if k.startswith(key))
    if not selected:
        candidates = sorted({
            k[:-len(marker)]
            for k in state_dict for marker in _BACKBONE_MARKERS
            if k.endswith(marker) and (k[:-len(marker)] == ''
                                       or k[:-len(marker)].endswith('.'))
        })
        tops = sorted({k.split('.', 1)[0] for k in state_dict})
        raise KeyError(
            f'No tensor starts with {key!r}. Top-level names: {tops}; '
            f'prefixes that hold a whole backbone: {candidates or "none"} '
            "(use --key '' for a file that already is a bare backbone)")
    return selected


def to_torchvision_resnet50(
        state_dict: Dict[str, torch.Tensor]
) -> 'OrderedDict[str, torch.Tensor]':
    """Check an mmpretrain ResNet-50 state dict against torchvision's names.

    mmpretrain's ``ResNet(depth=50, style='pytorch')`` registers exactly the
    module names of ``torchvision.models.resnet50`` (``conv1``, ``bn1``,
    ``layer{1-4}.{i}.conv{1-3}`` / ``bn{1-3}``, ``downsample.0`` (conv) and
    ``downsample.1`` (BN)), so the keys are copied unchanged. The point is
    the check: a ResNet-18, a CIFAR stem or a deep stem (``stem.*``) would
    load into torchvision with errors much later.

    Args:
        state_dict (dict): Backbone state dict in mmpretrain names.

    Returns:
        OrderedDict: The same tensors, ordered as torchvision's.

    Raises:
        ValueError: If the key set or a shape differs from torchvision's
            ``resnet50`` without its ``fc``.
    """
    from torchvision.models import resnet50

    reference = {
        k: v.shape
        for k, v in resnet50(weights=None).state_dict().items()
        if not k.startswith('fc.')
    }
    missing = sorted(set(reference) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(reference))
    wrong_shape = [
        f'{k}: {tuple(state_dict[k].shape)} vs {tuple(shape)}'
        for k, shape in reference.items()
        if k in state_dict and state_dict[k].shape != shape
    ]
    if missing or unexpected or wrong_shape:
        raise ValueError(
            'Not a torchvision-compatible ResNet-50 backbone: '
            f'missing {missing[:5]} ({len(missing)}), unexpected '
            f'{unexpected[:5]} ({len(unexpected)}), shape mismatches '
            f'{wrong_shape[:5]} ({len(wrong_shape)})')
    return OrderedDict((k, state_dict[k]) for k in reference)


def timm_vit_reference_keys(depth: int) -> List[str]:
    """Parameter names of a timm ``VisionTransformer`` without ``head``.

    Holds for the class-token models with a final norm, e.g.
    ``vit_small_patch16_224`` (depth 12) and ``vit_base_patch16_224``.

    Args:
        depth (int): Number of transformer blocks.

    Returns:
        list[str]: The names, in timm's registration order.
    """
    keys = ['cls_token', 'pos_embed', 'patch_embed.proj.weight',
            'patch_embed.proj.bias']
    for i in range(depth):
        for module in ('norm1', 'attn.qkv', 'attn.proj', 'norm2', 'mlp.fc1',
                       'mlp.fc2'):
            keys += [
                f'blocks.{i}.{module}.weight', f'blocks.{i}.{module}.bias'
            ]
    return keys + ['norm.weight', 'norm.bias']


def to_timm_vit(
        state_dict: Dict[str, torch.Tensor]
) -> 'OrderedDict[str, torch.Tensor]':
    """Rename an mmpretrain ``VisionTransformer`` state dict to timm's names.

    Args:
        state_dict (dict): Backbone state dict in mmpretrain names.

    Returns:
        OrderedDict: The tensors under timm's names, in timm's order.

    Raises:
        ValueError: If a key has no timm counterpart (e.g. an average-pooled
            model's ``ln2``, layer scale, relative position bias) or the
            result misses a name timm expects (e.g. no ``qkv`` bias).
    """
    renamed, unknown = {}, []
    for key, value in state_dict.items():
        for pattern, repl in _TIMM_VIT_RULES:
            if re.match(pattern, key):
                renamed[re.sub(pattern, repl, key)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(
            f'No timm name for {unknown[:5]} ({len(unknown)} keys); only '
            'class-token ViTs with a final norm (out_type="cls_token", '
            'final_norm=True) convert')
    depth = len({k.split('.')[1] for k in renamed if k.startswith('blocks.')})
    reference = timm_vit_reference_keys(depth)
    missing = sorted(set(reference) - set(renamed))
    if missing or len(renamed) != len(reference):
        raise ValueError(
            f'The converted ViT misses timm keys {missing[:5]} '
            f'({len(missing)}) or has extra ones')
    return OrderedDict((k, renamed[k]) for k in reference)


_CONVERTERS = {
    'mmpretrain': lambda state_dict: OrderedDict(state_dict),
    'torchvision-resnet50': to_torchvision_resnet50,
    'timm-vit': to_timm_vit,
}


def extract_backbone(in_file: str,
                     out_file: str,
                     key: str = 'backbone.',
                     out_format: str = 'mmpretrain') -> Dict:
    """Write the backbone of ``in_file`` to ``out_file``.

    Args:
        in_file (str): Pretrain checkpoint.
        out_file (str): Where to write ``{'state_dict', 'meta'}``.
        key (str): Prefix of the backbone in ``in_file``. ``''`` takes the
            whole state dict (to convert a file that already is a bare
            backbone). Defaults to ``'backbone.'``.
        out_format (str): One of :data:`FORMATS`.

    Returns:
        dict: What was written.
    """
    if out_format not in _CONVERTERS:
        raise ValueError(f'out_format must be one of {FORMATS}, got '
                         f'{out_format!r}')
    state_dict, source_meta = load_pretrain_state_dict(in_file)
    backbone = select_prefix(state_dict, key) if key else state_dict
    converted = _CONVERTERS[out_format](backbone)
    # `clone` gives each tensor its own storage: torch.save writes a
    # view's whole storage, which could drag in unrelated weights.
    converted = OrderedDict(
        (k, v.detach().clone()) for k, v in converted.items())
    # Only plain Python types, so that the file loads with torch's
    # `weights_only=True` without any allow-listing.
    meta = dict(
        source=str(in_file),
        key=key,
        format=out_format,
        num_tensors=len(converted))
    meta.update({
        name: source_meta[name]
        for name in _META_FIELDS
        if isinstance(source_meta.get(name), (str, int, float))
    })
    if isinstance(source_meta.get('cfg'), str):
        # The pretrain config text: which recipe produced these weights.
        meta['pretrain_cfg'] = source_meta['cfg']
    result = {'state_dict': converted, 'meta': meta}
    mkdir_or_exist(osp.dirname(osp.abspath(out_file)))
    torch.save(result, out_file)
    return result


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='Write the backbone of a pretrain checkpoint as a '
        'backbone-only state dict (keys without the prefix)')
    parser.add_argument('checkpoint', help='pretrain checkpoint')
    parser.add_argument('output', help='output file, e.g. backbone.pth')
    parser.add_argument(
        '--key',
        default='backbone.',
        help='prefix of the backbone in the checkpoint: "backbone." (the '
        'online encoder, default), "momentum_encoder.module.0." (MoCo v3 / '
        'SNCLR momentum encoder), "target_net.module.0." (BYOL target), or '
        '"" for a file that already is a bare backbone')
    parser.add_argument(
        '--format',
        dest='out_format',
        choices=FORMATS,
        default='mmpretrain',
        help='key names of the output (default: %(default)s)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict:
    """Run the extraction; returns what was written."""
    args = parse_args(argv)
    result = extract_backbone(args.checkpoint, args.output, args.key,
                              args.out_format)
    print(f'Wrote {result["meta"]["num_tensors"]} tensors '
          f'({args.out_format} names, prefix {args.key!r} removed) to '
          f'{args.output}')
    return result


if __name__ == '__main__':
    run_cli(main)
