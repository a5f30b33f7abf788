from .checkpoint import register_checkpoint_safe_globals
from .dist import prepare_cpu_distributed

__all__ = ['register_checkpoint_safe_globals', 'prepare_cpu_distributed']
