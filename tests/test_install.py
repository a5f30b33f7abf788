"""The package works installed as a wheel, outside any checkout: it
imports and registers from site-packages, and the repository's tools run
against that install."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest
from helpers import (
    NNCLR_DEMO,
    REPO,
    small_nnclr_options,
    synthetic_fmnist_root,
)

PACKAGE = osp.join(REPO, 'nnclr_plugin')


def test_no_module_derives_paths_from_its_own_location():
    """A wheel install has no configs/, docs/ or tools/ beside the package:
    nothing in it may look for them there."""
    offenders = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                with open(path, encoding='utf-8') as f:
                    if '__file__' in f.read():
                        offenders.append(osp.relpath(path, REPO))
    assert offenders == []


def copy_source(dst) -> str:
    """The files a wheel is built from, copied: setuptools writes build/
    and egg-info into the source folder, where stale files would leak into
    later wheels."""
    os.makedirs(dst)
    for name in ('setup.py', 'README.md'):
        shutil.copy(osp.join(REPO, name), osp.join(dst, name))
    for name in ('requirements', 'nnclr_plugin'):
        shutil.copytree(osp.join(REPO, name), osp.join(dst, name),
                        ignore=shutil.ignore_patterns('__pycache__'))
    return str(dst)


def test_installing_into_this_stack_changes_no_installed_package(tmp_path):
    """The requirements are ranges that both tested stacks satisfy: pip
    would add nnclr_plugin alone (no upgrade of torch & co.)."""
    report = tmp_path / 'report.json'
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--dry-run', '--no-index',
         '--no-build-isolation', '-q', '--report', str(report),
         copy_source(tmp_path / 'src')], capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(report) as f:
        wanted = [item['metadata']['name'].replace('-', '_')
                  for item in json.load(f)['install']]
    assert wanted == ['nnclr_plugin'], wanted


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """``pip install`` of a wheel built from this checkout into a folder
    that comes first on ``PYTHONPATH`` (the editable install stays behind
    it), with the checkout itself off the path."""
    root = tmp_path_factory.mktemp('wheel_install')
    src, dist, site = copy_source(root / 'src'), root / 'dist', root / 'site'
    pip = [sys.executable, '-m', 'pip']
    build = subprocess.run(
        [*pip, 'wheel', '--no-deps', '--no-build-isolation', '--no-index',
         '-q', '-w', str(dist), src], capture_output=True, text=True,
        timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    wheels = list(dist.glob('nnclr_plugin-*.whl'))
    assert len(wheels) == 1, wheels
    install = subprocess.run(
        [*pip, 'install', '--no-deps', '--no-index', '-q', '--target',
         str(site), str(wheels[0])], capture_output=True, text=True,
        timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    env = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS='1')
    return dict(wheel=wheels[0], site=str(site), env=env, cwd=str(root))


def run_python(installed, code: str) -> str:
    proc = subprocess.run([sys.executable, '-c', code], env=installed['env'],
                          cwd=installed['cwd'], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def test_wheel_holds_the_package_and_nothing_of_the_checkout(installed):
    with zipfile.ZipFile(installed['wheel']) as whl:
        tops = {name.split('/')[0] for name in whl.namelist()}
    assert 'nnclr_plugin' in tops
    assert not tops & {'configs', 'tools', 'tests', 'docs', 'scripts'}


def test_installed_package_imports_and_registers(installed):
    out = run_python(
        installed, 'import nnclr_plugin\n'
        'from mmpretrain.registry import HOOKS, MODELS\n'
        'assert MODELS.get("NNCLR") and MODELS.get("SoftNeighborHead")\n'
        'assert HOOKS.get("SupportSetQueueHook")\n'
        'print(nnclr_plugin.__file__)\n')
    assert out.strip().startswith(installed['site']), out


def test_tools_train_and_evaluate_with_the_installed_package(installed):
    """tools/train.py and knn_eval.py of the checkout, run from another
    folder: they import the installed package, and the kNN tool's default
    data config still comes from the checkout the tool belongs to."""
    work = osp.join(installed['cwd'], 'work')
    train_argv = [
        osp.join(REPO, 'tools', 'train.py'), NNCLR_DEMO, '--work-dir', work,
        '--cfg-options',
        *small_nnclr_options(32, 8, 2, 2, 4096, 'param_scheduler=[]')
    ]
    knn_argv = [
        osp.join(REPO, 'tools', 'analysis_tools', 'knn_eval.py'), NNCLR_DEMO,
        osp.join(work, 'iter_2.pth'), '--data-root',
        synthetic_fmnist_root(),
        '--max-train', '64', '--max-test', '32', '--k', '5', '--cfg-options',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0'
    ]
    # Each tool runs as `python TOOL ...` would run it (its own folder
    # first on sys.path); then we ask where nnclr_plugin came from.
    code = ('import os.path as osp, runpy, sys\n'
            'for argv in {!r}:\n'
            '    sys.argv = list(argv)\n'
            '    sys.path.insert(0, osp.dirname(argv[0]))\n'
            '    try:\n'
            '        runpy.run_path(argv[0], run_name="__main__")\n'
            '    except SystemExit as exit:\n'
            '        assert not exit.code, exit.code\n'
            '    sys.path.pop(0)\n'
            'import nnclr_plugin\n'
            'print("FROM", nnclr_plugin.__file__)\n').format(
                [train_argv, knn_argv])
    out = run_python(installed, code)
    assert f'FROM {installed["site"]}' in out, out[-3000:]
    assert 'kNN (k=5' in out, out[-3000:]
