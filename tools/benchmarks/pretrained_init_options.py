"""Print the ``--cfg-options`` pointing a config's pretrained inits at a file.

A downstream config may load the backbone weights in more than one place:
the Mask R-CNN C4 configs run ResNet stages 1-3 as the backbone and stage 4
(``layer4``) as ``roi_head.shared_head``, each with its own
``init_cfg=dict(type='Pretrained', ...)``. Overriding only
``model.backbone.init_cfg.checkpoint`` would leave ``layer4`` randomly
initialised without an error, so the launchers ask this script for every
``Pretrained`` init under ``model`` instead of hard-coding the paths.

Example::

    $ python tools/benchmarks/pretrained_init_options.py \\
        configs/benchmarks/mmdetection/mask-rcnn_r50-c4_ms-1x_coco.py bb.pth
    model.backbone.init_cfg.checkpoint=bb.pth
    model.roi_head.shared_head.init_cfg.checkpoint=bb.pth
"""
import argparse
from typing import List, Optional

from mmengine.config import Config

from nnclr_plugin.utils.config import pretrained_init_paths


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Print one ``KEY=VALUE`` option per line; returns them."""
    parser = argparse.ArgumentParser(
        description='List the --cfg-options that set the checkpoint of every '
        'Pretrained init_cfg of a config')
    parser.add_argument('config', help='downstream config')
    parser.add_argument('checkpoint', help='backbone weights to load')
    args = parser.parse_args(argv)
    # Only the dict is needed: skip custom_imports (mmdet, the plugin).
    cfg = Config.fromfile(args.config, import_custom_modules=False)
    paths = pretrained_init_paths(cfg.model)
    if not paths:
        raise SystemExit(f'{args.config} has no Pretrained init_cfg under '
                         'model; nothing would load the backbone weights')
    options = [f'{path}.checkpoint={args.checkpoint}' for path in paths]
    print('\n'.join(options))
    return options


if __name__ == '__main__':
    main()
