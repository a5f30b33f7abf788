from .support_set_queue import Neighbors, SupportSetQueue

__all__ = ['Neighbors', 'SupportSetQueue']
