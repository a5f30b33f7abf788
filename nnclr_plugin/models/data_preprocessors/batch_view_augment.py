"""Two-view SSL augmentation done on the whole batch, in torch."""
import math
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS
from torch import Tensor

from ...utils.checks import check_int


def _check_range(key: str, value: Sequence[float], low: float,
                 high: float) -> Tuple[float, float]:
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not low <= value[0] <= value[1] <= high):
        raise ValueError(
            f'BatchMultiViewPreprocessor: {key} must be a pair (min, max) '
            f'with {low} <= min <= max <= {high}, got {key}={value!r}')
    return float(value[0]), float(value[1])


def _check_prob(key: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 <= value <= 1:
        raise ValueError(f'BatchMultiViewPreprocessor: {key} must be a '
                         f'probability in [0, 1], got {key}={value!r}')
    return float(value)


@MODELS.register_module()
class BatchMultiViewPreprocessor(SelfSupDataPreprocessor):
    """Make the augmented views of a single-view batch with tensor ops.

    The per-image pipelines of mmpretrain (``MultiView`` of PIL/cv2
    transforms in the data loader) cost more than a small network's step on
    a few CPU cores, and they compete with it for those cores. Here the
    data loader only packs the raw images and every view is made on the
    batch at once: a random resized crop and horizontal flip as one affine
    resampling (``grid_sample``, bilinear), then, with probability
    ``jitter_prob``, brightness and contrast factors drawn uniformly from
    ``[1 - x, 1 + x]``, in random order per image (like torchvision's
    ``ColorJitter``), clipped to ``[0, 255]``, and finally mean/std
    normalisation. All randomness comes from torch's generator of the
    input's device, so a seeded run is reproducible, on a GPU too.

    The crop draws area and aspect ratio like torchvision's
    ``RandomResizedCrop`` but never retries: a box wider or taller than the
    image is clamped to it (torchvision redraws up to ten times first).

    In evaluation (``training=False``) the batch is only normalised, as
    ``SelfSupDataPreprocessor`` does.

    Args:
        mean (Sequence[float]): Per-channel mean, 0..255 scale.
        std (Sequence[float]): Per-channel standard deviation.
        num_views (int): Views made from each image. Defaults to 2.
        crop_size (int): Side of the output views. Defaults to 28.
        crop_scale (Sequence[float]): Range of the crop's share of the
            image area. Defaults to (0.2, 1.0).
        crop_ratio (Sequence[float]): Range of the crop's aspect ratio.
            Defaults to (3/4, 4/3).
        flip_prob (float): Probability of a horizontal flip.
            Defaults to 0.5.
        brightness (float): Brightness jitter strength in [0, 1].
            Defaults to 0.4.
        contrast (float): Contrast jitter strength in [0, 1].
            Defaults to 0.4.
        jitter_prob (float): Probability of the brightness/contrast jitter;
            0 gives crop-and-flip-only views. Defaults to 0.8.
        **kwargs: Other arguments of ``SelfSupDataPreprocessor``.
    """

    def __init__(self,
                 mean: Sequence[float],
                 std: Sequence[float],
                 num_views: int = 2,
                 crop_size: int = 28,
                 crop_scale: Sequence[float] = (0.2, 1.0),
                 crop_ratio: Sequence[float] = (3 / 4, 4 / 3),
                 flip_prob: float = 0.5,
                 brightness: float = 0.4,
                 contrast: float = 0.4,
                 jitter_prob: float = 0.8,
                 **kwargs) -> None:
        super().__init__(mean=mean, std=std, **kwargs)
        check_int('BatchMultiViewPreprocessor', num_views=num_views,
                  crop_size=crop_size)
        self.num_views = num_views
        self.crop_size = crop_size
        self.crop_scale = _check_range('crop_scale', crop_scale, 1e-6, 1.0)
        self.crop_ratio = _check_range('crop_ratio', crop_ratio, 1e-6,
                                       float('inf'))
        self.flip_prob = _check_prob('flip_prob', flip_prob)
        self.brightness = _check_prob('brightness', brightness)
        self.contrast = _check_prob('contrast', contrast)
        self.jitter_prob = _check_prob('jitter_prob', jitter_prob)

    def _uniform(self, n: int, low: float, high: float,
                 device: torch.device) -> Tensor:
        return torch.rand(n, device=device) * (high - low) + low

    def crop_and_flip(self, images: Tensor) -> Tensor:
        """Random resized crops (with flips) of ``(N, C, H, W)`` floats."""
        n, device = images.shape[0], images.device
        area = self._uniform(n, *self.crop_scale, device)
        log_ratio = self._uniform(n, math.log(self.crop_ratio[0]),
                                  math.log(self.crop_ratio[1]), device)
        ratio = torch.exp(log_ratio)
        # Width and height as fractions of the image side.
        width = torch.sqrt(area * ratio).clamp(max=1.0)
        height = torch.sqrt(area / ratio).clamp(max=1.0)
        # Box centre in [-1, 1] coordinates, kept inside the image.
        cx = (torch.rand(n, device=device) * 2 - 1) * (1 - width)
        cy = (torch.rand(n, device=device) * 2 - 1) * (1 - height)
        flip = torch.rand(n, device=device) < self.flip_prob
        sx = torch.where(flip, -width, width)
        theta = torch.zeros(n, 2, 3, device=device, dtype=images.dtype)
        theta[:, 0, 0] = sx
        theta[:, 0, 2] = cx
        theta[:, 1, 1] = height
        theta[:, 1, 2] = cy
        size = (n, images.shape[1], self.crop_size, self.crop_size)
        grid = F.affine_grid(theta, size, align_corners=False)
        return F.grid_sample(
            images, grid, mode='bilinear', padding_mode='border',
            align_corners=False)

    def jitter(self, images: Tensor) -> Tensor:
        """Brightness/contrast jitter of ``(N, C, H, W)`` floats in 0..255."""
        n, device = images.shape[0], images.device
        shape = (n, 1, 1, 1)
        apply = (torch.rand(n, device=device) < self.jitter_prob).view(shape)
        bright = self._uniform(n, 1 - self.brightness, 1 + self.brightness,
                               device).view(shape)
        contrast = self._uniform(n, 1 - self.contrast, 1 + self.contrast,
                                 device).view(shape)
        contrast_first = (torch.rand(n, device=device) < 0.5).view(shape)
        bright = torch.where(apply, bright, torch.ones_like(bright))
        contrast = torch.where(apply, contrast, torch.ones_like(contrast))

        def adjust_contrast(x: Tensor) -> Tensor:
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            return (x - mean) * contrast + mean

        b_then_c = adjust_contrast(images * bright)
        c_then_b = adjust_contrast(images) * bright
        out = torch.where(contrast_first, c_then_b, b_then_c)
        return out.clamp(0, 255)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalise a single-view batch; when training, make its views.

        Args:
            data (dict): A ``default_collate`` batch whose ``inputs`` is one
                ``(N, C, H, W)`` tensor (``PackInputs`` without
                ``MultiView``).
            training (bool): Whether to make augmented views.

        Returns:
            dict: ``inputs`` as a list of ``num_views`` normalised
            ``(N, C, crop_size, crop_size)`` tensors when training, else one
            normalised tensor; and ``data_samples``.
        """
        if not training:
            return super().forward(data, training)
        data = self.cast_data(data)
        images = data['inputs']
        if not isinstance(images, Tensor):
            raise ValueError(
                'BatchMultiViewPreprocessor makes the views itself: the '
                'training pipeline must pack single images (PackInputs '
                'without MultiView) and the dataloader use default_collate; '
                f'got inputs of type {type(images).__name__}')
        images = images.float()
        if self._channel_conversion:
            images = images[:, [2, 1, 0], ...]
        views = []
        for _ in range(self.num_views):
            view = self.crop_and_flip(images)
            if self.jitter_prob > 0:
                view = self.jitter(view)
            if self._enable_normalize:
                view = (view - self.mean) / self.std
            views.append(view)
        return {'inputs': views, 'data_samples': data['data_samples']}

    def extra_repr(self) -> str:
        return (f'num_views={self.num_views}, crop_size={self.crop_size}, '
                f'crop_scale={self.crop_scale}, crop_ratio={self.crop_ratio},'
                f' flip_prob={self.flip_prob}, brightness={self.brightness}, '
                f'contrast={self.contrast}, jitter_prob={self.jitter_prob}')
