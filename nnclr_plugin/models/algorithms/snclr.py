"""SNCLR: MoCo v3 whose head sees the ground-truth labels for diagnostics."""
from typing import Dict, List

import torch
from mmpretrain.models import MoCoV3
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from .nnclr import gt_labels


@MODELS.register_module()
class SNCLR(MoCoV3):
    """SNCLR (Ge et al., ICLR 2023) on mmpretrain's MoCo v3.

    Everything SNCLR adds lives in :class:`SoftNeighborHead`, which also
    runs under a stock ``type='MoCoV3'``. This subclass exists for one
    reason: MoCo v3 does not hand the data samples to its head, so the
    support-set hook could not log the share of soft neighbours of the
    query's class. Here ``head.loss`` also receives the ground-truth labels
    (diagnostics only; never used by the loss). Arguments are MoCo v3's.
    """

    def loss(self, inputs: List[torch.Tensor],
             data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        if not isinstance(inputs, list) or len(inputs) != 2:
            raise ValueError('SNCLR expects two views per sample (MultiView '
                             'in the train pipeline)')
        q1 = self.neck(self.backbone(inputs[0]))[0]
        q2 = self.neck(self.backbone(inputs[1]))[0]
        with torch.no_grad():
            self.momentum_encoder.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            k1 = self.momentum_encoder(inputs[0])[0]
            k2 = self.momentum_encoder(inputs[1])[0]
        labels = gt_labels(data_samples, q1.device)
        loss = self.head.loss(q1, k2, labels) + self.head.loss(q2, k1, labels)
        return dict(loss=loss)
