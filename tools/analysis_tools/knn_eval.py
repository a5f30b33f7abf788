"""Weighted kNN accuracy of a checkpoint's frozen backbone features.

See :mod:`nnclr_plugin.apis.knn_eval`. Example::

    python tools/analysis_tools/knn_eval.py \\
        configs/demo/simclr_resnet18-c32_1xb128-coslr-300it_fashion-mnist.py \\
        work_dirs/simclr/iter_300.pth --out knn.json
"""
# First: registers the components, allow-lists checkpoint globals and
# mutes mmengine's import-time pkg_resources warning.
import nnclr_plugin  # noqa: F401,I001

import os.path as osp  # noqa: E402

from nnclr_plugin.apis.knn_eval import main  # noqa: E402
from nnclr_plugin.utils.user_errors import run_cli  # noqa: E402

# This script's repository (the installed package may live elsewhere).
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA_CONFIG = osp.join(REPO, 'configs', '_base_', 'datasets',
                       'fashion_mnist_eval.py')

if __name__ == '__main__':
    run_cli(lambda: main(default_data_config=DATA_CONFIG))
