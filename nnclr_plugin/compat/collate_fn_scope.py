"""``_scope_`` in inherited ``collate_fn`` dicts (mmengine <= 0.10.7).

``_base_ = 'mmpretrain::...'`` tags every dict of the base with ``_scope_``;
``Runner.build_dataloader`` passes every key of ``collate_fn`` but ``type``
to the collate function, which then fails with an unexpected keyword. The
patched ``build_dataloader`` drops the key (collate functions live in
mmengine's ``FUNCTIONS`` whatever the scope). :func:`needed` builds a
one-sample loader with the stock method and collates it, so the fix goes
away by itself once mmengine ignores ``_scope_``.
"""
import copy

from mmengine.config import Config
from mmengine.runner import Runner
from torch.utils.data import SequentialSampler

NAME = 'collate-fn-scope'
DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
STOCK = Runner.__dict__['build_dataloader'].__func__


def needed() -> bool:
    """Whether the stock ``build_dataloader`` fails on ``_scope_``."""
    data = [0]
    loader = STOCK(dict(
        dataset=data,
        # A sampler object, not a config: a DefaultSampler would ask the
        # process group for a seed, and this runs at import time.
        sampler=SequentialSampler(data),
        batch_size=1,
        collate_fn=dict(type='default_collate', _scope_='mmengine')))
    try:
        next(iter(loader))
    except TypeError as err:
        return '_scope_' in str(err)
    return False


def drop_collate_fn_scope(cfg: Config) -> Config:
    """Remove ``_scope_`` from every dataloader's ``collate_fn`` of a
    config (what the patched ``Runner.build_dataloader`` does per loader)."""
    for name in DATALOADERS:
        loader = cfg.get(name)
        if isinstance(loader, dict) and isinstance(
                loader.get('collate_fn'), dict):
            loader['collate_fn'].pop('_scope_', None)
    return cfg


def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
    """``Runner.build_dataloader`` without ``collate_fn._scope_``."""
    if isinstance(dataloader, dict) and isinstance(
            dataloader.get('collate_fn'), dict) and \
            '_scope_' in dataloader['collate_fn']:
        dataloader = copy.copy(dataloader)
        dataloader['collate_fn'] = {
            k: v
            for k, v in dataloader['collate_fn'].items() if k != '_scope_'
        }
    return STOCK(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)


def apply() -> None:
    """Make ``Runner.build_dataloader`` ignore ``collate_fn._scope_``."""
    build_dataloader.__doc__ = STOCK.__doc__
    Runner.build_dataloader = staticmethod(build_dataloader)
