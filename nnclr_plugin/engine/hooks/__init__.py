from .knn_eval_hook import KNNEvalHook
from .support_set_queue_hook import SupportSetQueueHook, find_queues

__all__ = ['KNNEvalHook', 'SupportSetQueueHook', 'find_queues']
