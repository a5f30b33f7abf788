"""Write benchmark figures into the marked sections of ``docs/benchmarks.md``.

Every number in ``docs/benchmarks.md`` is written by a script through
:func:`write_section`: each benchmark owns the text between its
``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` markers and replaces only
that, so the quality and speed scripts share one page.
"""
import os
import os.path as osp
import platform

import torch

# This file lives in tools/benchmarks/ of the repository whose docs it writes.
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOCS = osp.join(REPO, 'docs')


# CPU features that decide which float kernels (and so which rounding and
# which speed-ups) torch, oneDNN and MKL pick.
CPU_FLAGS = ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16')
# Variables that narrow those choices; named in the line when set.
ISA_VARIABLES = ('ATEN_CPU_CAPABILITY', 'ONEDNN_MAX_CPU_ISA',
                 'MKL_ENABLE_INSTRUCTIONS')


def cpu_kind(cpuinfo: str = '/proc/cpuinfo') -> str:
    """The CPU a figure was measured on: ``lscpu``'s model name, family
    and model (both AMD Zen 3 and Zen 4 call themselves "AMD EPYC") and
    which of :data:`CPU_FLAGS` it has, e.g. ``AMD EPYC (family 25 model
    17; avx2 avx512f avx512_bf16, no amx_bf16)``."""
    fields = {}
    flags = set()
    if osp.isfile(cpuinfo):
        with open(cpuinfo) as f:
            for line in f:
                key, _, value = line.partition(':')
                key = key.strip()
                if key == 'flags':
                    flags = set(value.split())
                    break
                fields.setdefault(key, value.strip())
    name = fields.get('model name') or platform.processor() or 'CPU'
    has = [flag for flag in CPU_FLAGS if flag in flags]
    lacks = [flag for flag in CPU_FLAGS if flag not in flags]
    features = ', '.join(part for part in (
        ' '.join(has), 'no ' + ' '.join(lacks) if lacks else '') if part)
    model = (f'family {fields["cpu family"]} model {fields["model"]}; '
             if 'cpu family' in fields and 'model' in fields else '')
    return f'{name} ({model}{features})' if flags else name


def machine_kind() -> str:
    """The machine a figure was measured on, for the docs: CPU kind
    (:func:`cpu_kind`), cores, GPU, torch, threads and any ISA limit."""
    gpu = (f', {torch.cuda.get_device_name()}'
           if torch.cuda.is_available() else '')
    limits = ', '.join(f'{name}={os.environ[name]}' for name in ISA_VARIABLES
                       if os.environ.get(name))
    return (f'{platform.machine()} {cpu_kind()}, {os.cpu_count()} cores'
            f'{gpu}, torch {torch.__version__} '
            f'({torch.get_num_threads()} threads)'
            + (f', limited by {limits}' if limits else ''))


def markers(name: str):
    return f'<!-- {name}:begin -->', f'<!-- {name}:end -->'


def write_section(name: str, body: str, docs: str = DOCS) -> str:
    """Replace (or append) the section ``name`` of ``docs/benchmarks.md``.

    Args:
        name (str): Marker name, e.g. ``'quality'`` or ``'lookup'``.
        body (str): Markdown without the markers.
        docs (str): Folder of ``benchmarks.md``.

    Returns:
        str: The path written.
    """
    begin, end = markers(name)
    section = f'{begin}\n{body.rstrip()}\n{end}'
    os.makedirs(docs, exist_ok=True)
    path = osp.join(docs, 'benchmarks.md')
    text = '# Benchmarks\n\n' + section + '\n'
    if osp.isfile(path):
        with open(path) as f:
            old = f.read()
        if begin in old and end in old:
            text = (old[:old.index(begin)] + section +
                    old[old.index(end) + len(end):])
        else:
            text = old.rstrip('\n') + '\n\n' + section + '\n'
    with open(path, 'w') as f:
        f.write(text)
    return path
