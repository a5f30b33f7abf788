"""PNG of the masks / boxes a segmentation or detection transfer checkpoint
predicts on a few images (mmseg's / mmdet's own visualisers).

See :mod:`nnclr_plugin.apis.visualize_downstream`. Example::

    CFG=configs/benchmarks/mmsegmentation
    python tools/analysis_tools/visualize_downstream.py \\
        $CFG/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py \\
        work_dirs/benchmarks/fcn_voc/iter_20000.pth --out fcn_voc.png
"""
# First: registers the components, allow-lists checkpoint globals and
# mutes mmengine's import-time pkg_resources warning.
import nnclr_plugin  # noqa: F401,I001

from nnclr_plugin.apis.visualize_downstream import main
from nnclr_plugin.utils.user_errors import run_cli

if __name__ == '__main__':
    run_cli(main)
