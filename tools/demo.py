"""`make demo`: pretrain on Fashion-MNIST (CPU), kNN, neighbour grid.

See :mod:`nnclr_plugin.apis.demo`; ``--help`` lists the options.
"""
# First: registers the components, allow-lists checkpoint globals and
# mutes mmengine's import-time pkg_resources warning.
import nnclr_plugin  # noqa: F401,I001

from nnclr_plugin.apis.demo import main

if __name__ == '__main__':
    main()
