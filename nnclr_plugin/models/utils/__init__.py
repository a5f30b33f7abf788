from .batch_view_augment import BatchMultiViewPreprocessor
from .gather import gather_no_grad, gather_with_grad, rank_offset
from .positiveness_cross_attention import PositivenessCrossAttention

__all__ = [
    'BatchMultiViewPreprocessor', 'gather_no_grad', 'gather_with_grad',
    'rank_offset', 'PositivenessCrossAttention'
]
