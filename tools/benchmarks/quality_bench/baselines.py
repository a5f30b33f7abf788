"""The reference points of the report: raw pixels and a random-init backbone.

Both are scored with the same weighted kNN and linear probe as the
trained runs, on the data of the config's ``KNNEvalHook``. Measuring builds
the config's model, so it happens once and is cached as
``baselines.json`` (tracked in git beside the results); the report only
reads the dict.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import torch

from ..benchmark_docs import REPO, machine_kind


def load_or_measure(cache_dir: str, config: str) -> Dict:
    """The cached baselines, measured first if there is no cache.

    Args:
        cache_dir (str): Folder of ``baselines.json``.
        config (str): Config (relative to the repository) whose kNN hook's
            data and whose model are used, e.g. the bench SimCLR.

    Returns:
        dict: ``{'raw pixels': {knn_top1, probe_top1, dims},
        'random-init backbone': {...}, 'machine': str}``.
    """
    path = osp.join(cache_dir, 'baselines.json')
    if osp.isfile(path):
        with open(path) as f:
            return json.load(f)
    out = measure(config)
    os.makedirs(cache_dir, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(out, f, indent=1)
    return out


def measure(config: str) -> Dict:
    """kNN and probe top-1 of raw pixels and of a random-init backbone."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    import nnclr_plugin  # noqa: F401  (registers the components)
    from nnclr_plugin.evaluation import knn_accuracy, linear_probe
    cfg = Config.fromfile(osp.join(REPO, config))
    init_default_scope('mmpretrain')
    knn_hook = [h for h in cfg.custom_hooks if h['type'] == 'KNNEvalHook'][0]
    loaders = [
        Runner.build_dataloader(knn_hook[k])
        for k in ('train_dataloader', 'val_dataloader')
    ]
    preprocessor = cfg.model.data_preprocessor
    pixels = _pixel_features(loaders, preprocessor.mean[0],
                             preprocessor.std[0])
    random_init = _random_init_features(cfg, loaders)
    out = {}
    for name, ((tr, trl), (te, tel)) in (('raw pixels', pixels),
                                         ('random-init backbone',
                                          random_init)):
        knn = knn_accuracy(tr, trl, te, tel)
        probe = linear_probe(tr, trl, te, tel)
        out[name] = dict(knn_top1=knn['top1'], probe_top1=probe['top1'],
                         dims=tr.shape[1])
    out['machine'] = machine_kind()
    return out


Features = Tuple[torch.Tensor, torch.Tensor]


def _pixel_features(loaders: List, mean: float,
                    std: float) -> List[Features]:
    """(features, labels) of each loader: the normalised pixels."""
    pixels = []
    for loader in loaders:
        feats, labels = [], []
        for data in loader:
            feats.append((data['inputs'].float().flatten(1) - mean) / std)
            labels.append(
                torch.cat([s.gt_label.view(-1) for s in data['data_samples']]))
        pixels.append((torch.cat(feats), torch.cat(labels)))
    return pixels


def _random_init_features(cfg, loaders: List) -> List[Features]:
    """(features, labels) of each loader: the backbone of the config's
    model as initialised with seed 0."""
    from mmengine.logging import MMLogger
    from mmpretrain.registry import MODELS

    from nnclr_plugin.evaluation import extract_backbone_features
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    MMLogger.get_current_instance().setLevel('WARNING')  # no init table
    model.init_weights()
    return [extract_backbone_features(model, loader) for loader in loaders]
