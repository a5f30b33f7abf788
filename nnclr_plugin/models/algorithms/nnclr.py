"""NNCLR: nearest-neighbour contrastive learning of visual representations."""
from typing import Dict, List, Optional, Union

import torch
from mmpretrain.models import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..heads.support_set_head import check_head_dims


@MODELS.register_module()
class NNCLR(BaseSelfSupervisor):
    """NNCLR (Dwibedi et al., ICCV 2021).

    Two views go through backbone and projection neck; for each view the
    positive is the nearest neighbour of its projection in a support set of
    past view-1 projections, and the loss is InfoNCE between that neighbour
    and the prediction of the *other* view, symmetrised::

        loss = (InfoNCE(NN(z1), p2) + InfoNCE(NN(z2), p1)) / 2

    The head (:class:`NNCLRHead`) owns predictor, support set and loss; the
    :class:`SupportSetQueueHook` enqueues ``z1`` after each step. Any head
    with ``symmetric_loss(z1, z2)`` fits.

    Args:
        backbone (dict): Backbone config.
        neck (dict): Projection MLP config (returns a tuple).
        head (dict): Head config, usually :class:`NNCLRHead`.
        pretrained (str, optional): Checkpoint to initialise from.
        data_preprocessor (dict, optional): Defaults to
            ``SelfSupDataPreprocessor``.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        check_head_dims(self.neck, self.head)

    def loss(self, inputs: List[torch.Tensor],
             data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Symmetrised NNCLR loss of two views.

        Args:
            inputs (list[Tensor]): Two batches of views.
            data_samples (list[DataSample]): Their samples (unused; the
                hook hands their labels to the support set for its log).

        Returns:
            dict[str, Tensor]: ``loss``.
        """
        if not isinstance(inputs, list) or len(inputs) != 2:
            raise ValueError('NNCLR expects two views per sample (MultiView '
                             'with num_views=2 in the train pipeline)')
        z1 = self.neck(self.backbone(inputs[0]))[0]
        z2 = self.neck(self.backbone(inputs[1]))[0]
        return dict(loss=self.head.symmetric_loss(z1, z2))
