from .support_set_queue_hook import SupportSetQueueHook, find_queues

__all__ = ['SupportSetQueueHook', 'find_queues']
