"""Each import-time fix runs only where its condition holds: where it
applies, the stock behaviour (``NNCLR_PLUGIN_NO_FIXES=1``) still fails and
the fix repairs it; where it does not, the stock code stays in place."""
import inspect
import io
import json
import os
import pickle
import re
import runpy
import subprocess
import sys
import zipfile

import mmcv
import numpy as np
import pytest
import torch
from helpers import REPO
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import Runner

from nnclr_plugin import compat
from nnclr_plugin.compat import (
    checkpoint_safe_globals,
    collate_fn_scope,
    history_buffer_pickle,
    mmcv_hue,
    numpy_core_alias,
)


def numpy2_pickle() -> bytes:
    """A pickle as numpy 2 writes it (its module paths), whichever numpy
    runs this (the stock probe runs this source too)."""
    data = pickle.dumps({'a': np.arange(3.), 's': np.float64(2.5)}, 2)
    return data.replace(b'cnumpy.core.', b'cnumpy._core.')


# Everything the tests need to see of the stock behaviour, in one process
# with every fix off (an import of the stack takes seconds).
STOCK_PROBES = r"""
import io, json, pickle, traceback
import mmcv, mmcv.image.photometric as photometric, numpy as np, torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import Runner
from nnclr_plugin import compat
from nnclr_plugin.compat import (collate_fn_scope, history_buffer_pickle,
                                 mmcv_hue)


def error(fn):
    try:
        fn()
    except Exception:
        return traceback.format_exc(limit=-1)
    return None


def weights_only_numpy():
    out = io.BytesIO()
    torch.save({'a': np.arange(3.)}, out)
    out.seek(0)
    torch.load(out, weights_only=True)


def scoped_loader():
    loader = Runner.build_dataloader(dict(
        batch_size=2, dataset=[1, 2],
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate', _scope_='mmpretrain')))
    next(iter(loader))


print(json.dumps(dict(
    applied=compat.APPLIED,
    report=compat.report(),
    stock_objects=(
        mmcv.adjust_hue is photometric.adjust_hue is mmcv_hue.STOCK
        and HistoryBuffer.__getstate__ is history_buffer_pickle.STOCK
        and Runner.__dict__['build_dataloader'].__func__
        is collate_fn_scope.STOCK),
    hue=error(lambda: mmcv.adjust_hue(np.zeros((2, 2, 3), np.uint8), -0.1)),
    weights_only=error(weights_only_numpy),
    numpy2_pickle=error(lambda: pickle.loads(numpy2_pickle())),
    collate=error(scoped_loader))))
"""


@pytest.fixture(scope='module')
def stock():
    """What the stock code does here (``NNCLR_PLUGIN_NO_FIXES=1``)."""
    env = dict(os.environ, NNCLR_PLUGIN_NO_FIXES='1')
    proc = subprocess.run(
        [sys.executable, '-c', 'import nnclr_plugin\n' +
         inspect.getsource(numpy2_pickle) + STOCK_PROBES],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_environment_variable_turns_every_fix_off(stock):
    assert stock['applied'] == [] and stock['stock_objects']
    assert 'applied' not in stock['report'].values()
    needed = {fix.NAME for fix in compat.EARLY + compat.FIXES if fix.needed()}
    assert {name for name, state in stock['report'].items()
            if state == 'needed, off'} == needed


def test_applied_is_exactly_the_needed_fixes():
    """In this process every fix is installed iff it is needed here."""
    for fix in compat.FIXES:
        assert (fix.NAME in compat.APPLIED) == fix.needed(), \
            fix.NAME


# ---------------------------------------------------- numpy._core alias
def test_numpy_2_pickles_load_where_numpy_has_no_core_alias(stock):
    data = numpy2_pickle()
    assert b'cnumpy._core.multiarray' in data
    loaded = pickle.loads(data)
    assert np.array_equal(loaded['a'], np.arange(3.)) and loaded['s'] == 2.5
    if numpy_core_alias.needed():  # numpy < 1.26
        assert "No module named 'numpy._core'" in stock['numpy2_pickle']
        assert numpy_core_alias.NAME in compat.APPLIED
    else:
        assert stock['numpy2_pickle'] is None
        assert numpy_core_alias.NAME not in compat.APPLIED


# ------------------------------------------------------------ mmcv hue
HUE_FACTORS = (-0.5, -0.37, -0.1, -0.004, 0., 0.003, 0.1, 0.25, 0.5)


def test_hue_fix_where_numpy_2_breaks_the_stock_function(stock):
    if not mmcv_hue.needed():
        assert mmcv.adjust_hue is mmcv_hue.STOCK
        assert stock['hue'] is None  # numpy < 2 wraps: the stock one works
        return
    assert 'OverflowError' in stock['hue']
    assert mmcv.adjust_hue is mmcv_hue.adjust_hue
    out = mmcv.adjust_hue(np.full((2, 2, 3), 90, np.uint8), -0.1)
    assert out.shape == (2, 2, 3)


@pytest.mark.skipif(
    mmcv_hue.needed(),
    reason='mmcv\'s stock adjust_hue overflows on this numpy (>= 2): the '
    'comparison runs on the oldest stack (make test-oldest)')
@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_hue_replacement_equals_the_stock_function_on_numpy_1(backend):
    """Where the stock function still works (numpy < 2), the replacement
    gives the same images for every shift, negative ones included: it
    reproduces numpy 1's wrap-around, not an approximation of it."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    for factor in HUE_FACTORS:
        expected = mmcv_hue.STOCK(img, factor, backend=backend)
        assert np.array_equal(
            mmcv_hue.adjust_hue(img, factor, backend=backend), expected), \
            factor


# ------------------------------------------------- history buffer pickle
def test_history_buffer_pickles_without_class_functions():
    """The stock state carries ``HistoryBuffer.mean`` & co. (pickled
    through ``getattr``); the fixed one does not, on every torch, and a
    round trip keeps the statistics working."""
    assert history_buffer_pickle.needed()
    stock_state = history_buffer_pickle.STOCK(HistoryBuffer())
    assert 'statistics_methods' in stock_state
    buf = HistoryBuffer()
    buf.update(1.0)
    buf.update(3.0)
    data = pickle.dumps(buf, protocol=2)
    assert b'getattr' not in data and b'statistics_methods' not in data
    back = pickle.loads(data)
    assert back.mean() == 2.0 and back.current() == 3.0


# ---------------------------------------------- checkpoint safe globals
def numpy_checkpoint() -> bytes:
    """A torch checkpoint holding what a Runner's message_hub holds."""
    buf = HistoryBuffer()
    for value in (0.5, 0.25):
        buf.update(value)
    out = io.BytesIO()
    torch.save(dict(hub=dict(loss=buf), arr=np.arange(3.),
                    scalar=np.float64(2.5), state=torch.ones(2)), out)
    return out.getvalue()


def rename_numpy_module(data: bytes, old: bytes, new: bytes) -> bytes:
    """The same checkpoint as if written by the other numpy major version:
    pickle protocol 2 names each global as newline-terminated text."""
    src, dst = io.BytesIO(data), io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w') as zout:
        for item in zin.infolist():
            payload = zin.read(item.filename)
            if item.filename.endswith('data.pkl'):
                assert old in payload, payload
                payload = payload.replace(old, new)
            zout.writestr(item, payload)
    return dst.getvalue()


def check_loaded(ckpt: dict) -> None:
    assert ckpt['hub']['loss'].mean() == 0.375
    assert ckpt['arr'].tolist() == [0., 1., 2.]
    assert ckpt['scalar'] == 2.5 and ckpt['state'].tolist() == [1., 1.]


def test_safe_globals_only_where_torch_has_an_allow_list(stock):
    if not checkpoint_safe_globals.needed():
        assert not hasattr(torch.serialization, 'add_safe_globals')
        assert checkpoint_safe_globals.NAME not in compat.APPLIED
        return
    assert 'UnpicklingError' in stock['weights_only']
    check_loaded(torch.load(io.BytesIO(numpy_checkpoint()),
                            weights_only=True))


@pytest.mark.skipif(
    not checkpoint_safe_globals.needed(),
    reason='torch < 2.4 has no allow-list: torch.load unpickles numpy of '
    'either version by default (covered by the cross-stack tests)')
@pytest.mark.parametrize('writer', ['numpy 1', 'numpy 2'])
def test_weights_only_load_of_either_numpy_major_version(writer):
    """A checkpoint names the module of the numpy that wrote it; both
    names load under ``weights_only=True`` whichever numpy is here."""
    data = numpy_checkpoint()
    here = (b'numpy._core.multiarray' if b'numpy._core.multiarray' in data
            else b'numpy.core.multiarray')
    other = {b'numpy._core.multiarray': b'numpy.core.multiarray',
             b'numpy.core.multiarray': b'numpy._core.multiarray'}[here]
    wanted = b'numpy.core.multiarray' if writer == 'numpy 1' else \
        b'numpy._core.multiarray'
    if wanted != here:
        data = rename_numpy_module(data, b'c' + here, b'c' + other)
    check_loaded(torch.load(io.BytesIO(data), weights_only=True))


# ------------------------------------------------------ collate_fn scope
def test_collate_scope_fix_where_the_runner_passes_scope_on(stock):
    if not collate_fn_scope.needed():
        assert Runner.__dict__['build_dataloader'].__func__ is \
            collate_fn_scope.STOCK
        assert stock['collate'] is None
        return
    assert "'_scope_'" in stock['collate']
    loader = Runner.build_dataloader(dict(
        batch_size=2, dataset=[1, 2],
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate', _scope_='mmpretrain')))
    assert next(iter(loader)).tolist() == [1, 2]


def test_compat_report_cli_names_every_fix(capsys):
    runpy.run_module('nnclr_plugin.compat', run_name='__main__')
    out = capsys.readouterr().out
    for fix in compat.EARLY + compat.FIXES:
        state = 'applied' if fix.NAME in compat.APPLIED else 'not needed'
        assert re.search(rf'^{re.escape(fix.NAME)}\s+{state}$', out, re.M), out
