"""Import-time fixes for the tested OpenMMLab stacks, each only where needed.

``import nnclr_plugin`` (every tool and, through ``custom_imports``, every
config of this repository) runs :func:`apply_early` and then :func:`apply_all`.
One module a fix; each says what it targets and has a ``needed()`` that
tests for its own condition (calling the stock code where that is cheap),
so a fix that the installed versions do not need is never installed and one
that upstream fixes goes away by itself:

================================  ======================================
module                            needed where
================================  ======================================
:mod:`.multimodal_transformers5`  transformers >= 5 beside mmpretrain 1.2
:mod:`.mmcv_hue`                  numpy >= 2 (mmcv 2.1's ``adjust_hue``)
:mod:`.history_buffer_pickle`     mmengine <= 0.10.7, any torch (writer)
:mod:`.checkpoint_safe_globals`   torch >= 2.4 (``weights_only`` loads)
:mod:`.numpy_core_alias`          numpy < 1.26 (numpy 2's checkpoints)
:mod:`.collate_fn_scope`          mmengine <= 0.10.7
================================  ======================================

``NNCLR_PLUGIN_NO_FIXES=1`` turns every fix off, to see the stock behaviour
when debugging; ``python -m nnclr_plugin.compat`` prints which fixes the
installed versions need and which were applied.
"""
import os
from typing import Dict, List

from . import (
    checkpoint_safe_globals,
    collate_fn_scope,
    history_buffer_pickle,
    mmcv_hue,
    multimodal_transformers5,
    numpy_core_alias,
)
from .collate_fn_scope import drop_collate_fn_scope

DISABLE_ENV = 'NNCLR_PLUGIN_NO_FIXES'
EARLY = (multimodal_transformers5, )
FIXES = (mmcv_hue, history_buffer_pickle, checkpoint_safe_globals,
         numpy_core_alias, collate_fn_scope)
APPLIED: List[str] = []


def disabled() -> bool:
    """Whether ``NNCLR_PLUGIN_NO_FIXES`` turns the fixes off."""
    return os.environ.get(DISABLE_ENV, '').strip() not in ('', '0')


def _apply(fixes) -> List[str]:
    if disabled():
        return []
    done = []
    for fix in fixes:
        if fix.NAME not in APPLIED and fix.needed():
            fix.apply()
            APPLIED.append(fix.NAME)
            done.append(fix.NAME)
    return done


def apply_early() -> List[str]:
    """The fixes that must run before ``mmpretrain.models`` is imported.

    Returns:
        list[str]: Names of the fixes applied by this call.
    """
    return _apply(EARLY)


def apply_all() -> List[str]:
    """Every other fix that the installed versions need (idempotent).

    Returns:
        list[str]: Names of the fixes applied by this call.
    """
    return _apply(FIXES)


def report() -> Dict[str, str]:
    """Each fix's state here: ``'applied'``, ``'not needed'``, or
    ``'needed, off'`` (``NNCLR_PLUGIN_NO_FIXES`` set)."""
    states = {}
    for fix in EARLY + FIXES:
        if fix.NAME in APPLIED:
            states[fix.NAME] = 'applied'
        else:
            states[fix.NAME] = 'needed, off' if fix.needed() else 'not needed'
    return states


__all__ = ['apply_early', 'apply_all', 'report', 'disabled', 'FIXES',
           'drop_collate_fn_scope']
