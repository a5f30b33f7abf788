from .config import build_model_from_config, resolve_config_path
from .dist import prepare_cpu_distributed

__all__ = [
    'prepare_cpu_distributed', 'resolve_config_path',
    'build_model_from_config'
]
