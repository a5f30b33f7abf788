from .knn_eval_hook import KNNEvalHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .pretrained_check_hook import PretrainedLoadCheckHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .support_set_queue_hook import SupportSetQueueHook, find_queues

__all__ = [
    'KNNEvalHook', 'NonFiniteLossError', 'NonFiniteLossHook',
    'PretrainedLoadCheckHook', 'SafeCheckpointHook', 'SupportSetQueueHook',
    'find_queues'
]
