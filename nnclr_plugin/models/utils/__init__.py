from .batch_view_augment import BatchMultiViewPreprocessor
from .cosine_topk import auto_block_size, topk_inner_product
from .device_view_preprocessor import DeviceViewPreprocessor
from .gather import gather_no_grad, gather_with_grad, rank_offset
from .positiveness_cross_attention import PositivenessCrossAttention

__all__ = [
    'BatchMultiViewPreprocessor', 'DeviceViewPreprocessor', 'gather_no_grad',
    'gather_with_grad', 'rank_offset', 'PositivenessCrossAttention',
    'topk_inner_product', 'auto_block_size'
]
