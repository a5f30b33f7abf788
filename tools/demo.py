"""`make demo`: pretrain on Fashion-MNIST (CPU), kNN, neighbour grid.

See :mod:`nnclr_plugin.apis.demo`; ``--help`` lists the options.
"""
# First: registers the components, allow-lists checkpoint globals and
# mutes mmengine's import-time pkg_resources warning.
import nnclr_plugin  # noqa: F401,I001

import os.path as osp  # noqa: E402

from nnclr_plugin.apis.demo import main  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

if __name__ == '__main__':
    main(None, REPO)
