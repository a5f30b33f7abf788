from .checkpoint import register_checkpoint_safe_globals
from .compat import patch_mmcv_adjust_hue
from .config import (build_model_from_config, drop_collate_fn_scope,
                     resolve_config_path)
from .dist import prepare_cpu_distributed

__all__ = [
    'register_checkpoint_safe_globals', 'patch_mmcv_adjust_hue',
    'prepare_cpu_distributed', 'drop_collate_fn_scope',
    'resolve_config_path', 'build_model_from_config'
]
