from .neighbors import Neighbors, label_agreement
from .support_set_queue import SupportSetQueue
from .support_set_step import SupportSetStep

__all__ = ['Neighbors', 'SupportSetQueue', 'SupportSetStep', 'label_agreement']
