import os.path as osp
import sys

# Lets test modules `import helpers`.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
