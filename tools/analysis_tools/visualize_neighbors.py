"""PNG grid of the nearest neighbours of test images in a checkpoint's
projection space: the support set's own rows and images, or a dataset.

See :mod:`nnclr_plugin.apis.visualize_neighbors`. Example::

    python tools/analysis_tools/visualize_neighbors.py \\
        configs/demo/nnclr_resnet18-c32_1xb128-coslr-300it_fashion-mnist.py \\
        work_dirs/nnclr/iter_300.pth --out neighbors.png
"""
# First: registers the components, allow-lists checkpoint globals and
# mutes mmengine's import-time pkg_resources warning.
import nnclr_plugin  # noqa: F401,I001

import os.path as osp  # noqa: E402

from nnclr_plugin.apis.visualize_neighbors import main  # noqa: E402
from nnclr_plugin.utils.user_errors import run_cli  # noqa: E402

# This script's repository (the installed package may live elsewhere).
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA_CONFIG = osp.join(REPO, 'configs', '_base_', 'datasets',
                       'fashion_mnist_eval.py')

if __name__ == '__main__':
    run_cli(lambda: main(default_data_config=DATA_CONFIG))
