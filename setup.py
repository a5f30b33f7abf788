from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements(name: str) -> list:
    lines = (HERE / 'requirements' / name).read_text().splitlines()
    return [
        ln.strip() for ln in lines if ln.strip() and not ln.startswith('#')
    ]


def read_version() -> str:
    scope: dict = {}
    exec((HERE / 'nnclr_plugin' / 'version.py').read_text(), scope)
    return scope['__version__']


setup(
    name='nnclr_plugin',
    version=read_version(),
    description='NNCLR and SNCLR (nearest / soft-neighbour contrastive '
    'learning) as an OpenMMLab plugin',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    # The oldest tested stack's Python (requirements/lock/oldest.txt): what
    # OpenMMLab's install guides create.
    python_requires='>=3.8',
    packages=find_packages(include=['nnclr_plugin', 'nnclr_plugin.*']),
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        # mmcv is left to the user (built for their torch and CUDA) and
        # checked at import; `pip install nnclr_plugin[mim]` asks pip for it.
        'mim': read_requirements('mminstall.txt'),
        'tests': read_requirements('tests.txt'),
        'optional': read_requirements('optional.txt'),
        'benchmark': read_requirements('benchmark.txt'),
        'segmentation': read_requirements('segmentation.txt'),
    },
    zip_safe=False,
)
