from .support_set_queue import Neighbors, SupportSetQueue, label_agreement

__all__ = ['Neighbors', 'SupportSetQueue', 'label_agreement']
