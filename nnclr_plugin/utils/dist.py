"""Distributed training on CPU (gloo) with a stock mmengine Runner.

mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` and wraps the
model in DDP with ``device_ids=[LOCAL_RANK]``; both fail on a machine without
a GPU, and torch's DDP refuses SyncBN on CPU. ``prepare_cpu_distributed``
initialises the gloo process group first (the Runner then skips its own
``init_dist``) and selects :class:`CPUDistributedDataParallel`. On a machine
with CUDA it does nothing, so GPU runs are untouched.

Also the all-gathers the losses and the support set use
(:func:`gather_with_grad`, :func:`gather_no_grad`), on CPU and GPU alike.
"""
import atexit
import os
import sys
import threading

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.dist import all_gather, get_rank, get_world_size
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for CPU processes (gloo backend).

    SyncBN layers become plain BN (per-process statistics), because torch's
    SyncBN needs CUDA; GPU configs keep SyncBN unchanged.

    Args:
        module (nn.Module): The model to wrap.
        **kwargs: Passed to ``MMDistributedDataParallel``; ``device_ids``
            is forced to ``None`` (the module's own device).
    """

    def __init__(self, module: torch.nn.Module, **kwargs):
        if any(isinstance(m, torch.nn.SyncBatchNorm)
               for m in module.modules()):
            print_log(
                'CPU distributed training: SyncBN layers run as per-process '
                'BN.', logger='current')
            module = revert_sync_batchnorm(module)
        kwargs['device_ids'] = None
        super().__init__(module=module, **kwargs)


def prepare_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Make ``cfg`` trainable with ``launcher`` on a CPU-only machine.

    Args:
        cfg (Config): The config the Runner will be built from; its
            ``env_cfg.dist_cfg.backend`` and ``model_wrapper_cfg`` are set.
        launcher (str): The launcher given to the Runner (``'none'``,
            ``'pytorch'``, ``'slurm'`` or ``'mpi'``).

    Returns:
        bool: Whether a CPU process group was set up.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    cfg.setdefault('env_cfg', {})
    cfg.env_cfg.setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    if wrapper.get('type', 'MMDistributedDataParallel') not in (
            'MMDistributedDataParallel', 'CPUDistributedDataParallel'):
        raise ValueError(
            f"model_wrapper_cfg.type={wrapper['type']!r} cannot run without "
            'CUDA; leave it unset or use MMDistributedDataParallel')
    wrapper['type'] = 'CPUDistributedDataParallel'
    wrapper.setdefault('broadcast_buffers', False)
    # mmengine reads the top-level key only when it builds the wrapper itself.
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    if not torch_dist.is_initialized():
        if launcher == 'pytorch':
            torch_dist.init_process_group(backend='gloo')
        elif launcher == 'slurm':
            os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
            os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
            torch_dist.init_process_group(backend='gloo')
        else:
            raise ValueError(
                f'launcher={launcher!r} is not supported without CUDA; '
                "use 'pytorch' (torchrun / tools/dist_train.sh) or 'slurm'")
    return True


def finish_distributed() -> None:
    """End a distributed run cleanly: every rank waits until all are done
    (rank 0's final checkpoint written), the process group is torn down,
    and the process ends at once.

    Without the barrier, a rank that finishes first exits while the
    others still write or communicate; gloo's threads can then abort that
    process (``terminate called without an active exception``), and
    torchrun kills the rest, rank 0 in the middle of its last checkpoint.
    Even after the teardown the same abort hit 1 two-process run in 24
    (two runs sharing 2 cores) while the interpreter exited, so the process
    ends here: Python's threads are joined and its exit handlers run (logs
    flushed, files closed), the C++ static destructors that abort do not.
    A no-op outside a process group.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    torch_dist.barrier()
    torch_dist.destroy_process_group()
    # What the interpreter's exit would do first: wait for non-daemon
    # Python threads (an uploader, a logger backend), then the handlers.
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)


# All-gathers that keep single-process and DDP runs equivalent (the losses'
# and the support set's).
class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather whose backward sums the gradients of every rank.

    Each rank's loss depends on every rank's rows, so the gradient of a local
    row is the *sum* over ranks of the gradients flowing into its copies.
    Returning only the local slice (as mmpretrain's ``GatherLayer`` does)
    drops the other ranks' contributions; with the sum, DDP's gradient
    averaging reproduces single-process training on the concatenated batch.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        ctx.batch_size = tensor.shape[0]
        return torch.cat(all_gather(tensor), dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        torch_dist.all_reduce(grad, op=torch_dist.ReduceOp.SUM)
        start = get_rank() * ctx.batch_size
        return grad[start:start + ctx.batch_size]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from all ranks along dim 0, differentiably.

    Args:
        tensor (Tensor): Local rows, the same shape on every rank.

    Returns:
        Tensor: ``(world_size * N, ...)`` rows in rank order; ``tensor``
        itself when not distributed.
    """
    if get_world_size() == 1:
        return tensor
    return _AllGatherWithGrad.apply(tensor)


@torch.no_grad()
def gather_no_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from all ranks along dim 0, without gradient."""
    if get_world_size() == 1:
        return tensor.detach()
    return torch.cat(all_gather(tensor.detach()), dim=0)


def rank_offset(local_batch: int) -> int:
    """Index of this rank's first row in a gathered batch."""
    return get_rank() * local_batch
