"""SNCLR's soft-neighbour cross-attention: how positive is each candidate?"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import nn

from ...utils.checks import check_bool, check_int, check_positive


@MODELS.register_module()
class PositivenessCrossAttention(BaseModule):
    """Positiveness weights of K candidate neighbours for each query.

    The query (the online projection, before the predictor) attends over its
    own K candidates (momentum projections from the memory); the softmax of
    the attention logits over the K candidates is the positiveness ``w_i``
    (Ge et al., ICLR 2023, Sec. 3). Candidates of other samples never enter
    a query's softmax, so the weights of each row sum to one over its own
    candidates.

    The default is the authors' release: parameter-free dot products of the
    L2-normalised query and candidates, no scaling. With ``learnable=True``
    the query and candidates are first projected by linear maps into
    ``num_heads`` heads, scaled by ``head_dim ** -0.5`` as in standard
    attention, and the per-head softmaxes are averaged.

    Args:
        embed_dims (int): Dimension of queries and candidates.
        learnable (bool): Use learnable query/key projections.
            Defaults to False.
        num_heads (int): Heads of the learnable variant. Defaults to 1.
        scale (float, optional): Multiplier of the parameter-free logits;
            None means 1 (the release). Defaults to None.
        threshold (bool): Zero every weight below ``1 / K`` without
            renormalising (the release's ``--threshold``). Defaults to False.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 embed_dims: int,
                 learnable: bool = False,
                 num_heads: int = 1,
                 scale: Optional[float] = None,
                 threshold: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_bool('PositivenessCrossAttention', learnable=learnable,
                   threshold=threshold)
        check_int('PositivenessCrossAttention', num_heads=num_heads)
        check_positive('PositivenessCrossAttention', optional=True,
                       scale=scale)
        if not learnable and num_heads != 1:
            raise ValueError('PositivenessCrossAttention: num_heads > 1 '
                             'needs learnable=True')
        if embed_dims % num_heads:
            raise ValueError(
                f'PositivenessCrossAttention: embed_dims={embed_dims} is not '
                f'divisible by num_heads={num_heads}')
        self.embed_dims = embed_dims
        self.learnable = learnable
        self.num_heads = num_heads
        self.scale = scale
        self.threshold = threshold
        if learnable:
            self.q_proj = nn.Linear(embed_dims, embed_dims)
            self.k_proj = nn.Linear(embed_dims, embed_dims)

    def forward(self, query: torch.Tensor,
                candidates: torch.Tensor) -> torch.Tensor:
        """Positiveness of each candidate.

        Args:
            query (Tensor): ``(B, D)`` one query per sample.
            candidates (Tensor): ``(B, K, D)`` that sample's candidates.

        Returns:
            Tensor: ``(B, K)`` weights; each row sums to one (before the
            optional threshold). ``(B, 0)`` when ``K == 0``.
        """
        b, k, d = candidates.shape
        if query.shape != (b, d) or d != self.embed_dims:
            raise ValueError(
                'PositivenessCrossAttention: expected query (B, '
                f'{self.embed_dims}) and candidates (B, K, {self.embed_dims})'
                f', got {tuple(query.shape)} and {tuple(candidates.shape)}')
        if k == 0:
            return query.new_zeros(b, 0)
        if self.learnable:
            h = self.num_heads
            q = self.q_proj(query).view(b, h, 1, d // h)
            c = self.k_proj(candidates).view(b, k, h, d // h).transpose(1, 2)
            logits = (q @ c.transpose(-2, -1)).squeeze(2) * (d // h)**-0.5
            weights = logits.softmax(dim=-1).mean(dim=1)
        else:
            q = F.normalize(query, dim=-1)
            c = F.normalize(candidates, dim=-1)
            logits = torch.einsum('bd,bkd->bk', q, c)
            if self.scale is not None:
                logits = logits * self.scale
            weights = logits.softmax(dim=-1)
        if self.threshold:
            weights = weights * (weights > 1.0 / k)
        return weights

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, learnable={self.learnable}, '
                f'num_heads={self.num_heads}, threshold={self.threshold}')
