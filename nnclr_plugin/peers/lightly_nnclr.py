"""lightly's NNCLR building blocks as an mmpretrain algorithm (a peer)."""
from typing import Dict, List, Optional

import torch
from mmpretrain.models import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

try:
    from lightly.loss import NTXentLoss
    from lightly.models.modules import NNMemoryBankModule
except ImportError as err:  # pragma: no cover - depends on the extra
    raise ImportError(
        'The lightly NNCLR peer needs the optional benchmark dependency '
        '`lightly`: pip install -r requirements/benchmark.txt') from err


@MODELS.register_module()
class LightlyNNCLR(BaseSelfSupervisor):
    """NNCLR as lightly's example writes it, on our backbone and MLPs.

    Same backbone, projection neck and predictor configs as :class:`NNCLR`,
    so a benchmark compares only the parts lightly provides: its
    ``NNMemoryBankModule`` (random unit-vector rows at start, no warm-up,
    the nearest neighbour of ``z`` returned by ``argmax`` of the cosine) and
    ``NTXentLoss``, whose softmax for a pair ``(a_i, b_i)`` runs over
    ``2N - 1`` candidates: the ``N`` rows of ``b`` *and* the other ``N - 1``
    rows of ``a`` (our ``NNContrastiveLoss`` uses the ``N`` predictions
    only). The loss is lightly's documented recipe::

        nn0 = memory(z0.detach(), update=False)
        nn1 = memory(z1.detach(), update=True)
        loss = (ntxent(nn0, p1) + ntxent(nn1, p0)) / 2

    Args:
        backbone (dict): Backbone config.
        neck (dict): Projection MLP config.
        predictor (dict): Prediction MLP config.
        memory_size (int): Rows of the memory bank.
        temperature (float): NT-Xent temperature. Defaults to 0.1.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 predictor: dict,
                 memory_size: int,
                 temperature: float = 0.1,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.predictor = MODELS.build(predictor)
        feat_dim = neck['out_channels']
        self.memory = NNMemoryBankModule(size=(memory_size, feat_dim))
        self.criterion = NTXentLoss(temperature=temperature)

    def loss(self, inputs: List[torch.Tensor],
             data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """lightly's symmetrised NNCLR loss of two views."""
        z0 = self.neck(self.backbone(inputs[0]))[0]
        z1 = self.neck(self.backbone(inputs[1]))[0]
        p0 = self.predictor([z0])[0]
        p1 = self.predictor([z1])[0]
        nn0 = self.memory(z0.detach(), update=False)
        nn1 = self.memory(z1.detach(), update=True)
        loss = 0.5 * (self.criterion(nn0, p1) + self.criterion(nn1, p0))
        return dict(loss=loss)
