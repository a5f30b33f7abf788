from .gather import gather_no_grad, gather_with_grad, rank_offset

__all__ = ['gather_no_grad', 'gather_with_grad', 'rank_offset']
