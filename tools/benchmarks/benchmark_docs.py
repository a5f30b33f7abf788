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


def machine_kind() -> str:
    """The machine a figure was measured on, for the docs."""
    gpu = (f', {torch.cuda.get_device_name()}'
           if torch.cuda.is_available() else '')
    return (f'{platform.machine()} CPU, {os.cpu_count()} cores{gpu}, torch '
            f'{torch.__version__} ({torch.get_num_threads()} threads)')


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
