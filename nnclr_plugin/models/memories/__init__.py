from .neighbors import Neighbors, label_agreement
from .support_set_queue import SupportSetQueue

__all__ = ['Neighbors', 'SupportSetQueue', 'label_agreement']
