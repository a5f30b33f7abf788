"""All-gather helpers that keep single-process and DDP runs equivalent."""
from typing import Tuple

import torch
import torch.distributed as torch_dist
from mmengine.dist import all_gather, get_rank, get_world_size


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


__all__: Tuple[str, ...] = ('gather_with_grad', 'gather_no_grad',
                            'rank_offset')
