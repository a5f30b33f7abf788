"""Photometric view augmentations on a batch, one parameter per sample.

Batch-wise torch versions of the colour part of the SimCLR / BYOL / MoCo v3
view recipes as mmpretrain 1.2 runs them per image on the CPU (mmcv's
``pillow`` backend for ``ColorJitter``, ``RandomGrayscale``, PIL's
``GaussianBlur``, ``mmcv.solarize``). Every function takes ``(N, 3, H, W)``
float images in RGB order on the 0..255 scale and per-sample parameters of
shape ``(N,)``, computes in float32 (the blur turns autocast off for its
matrix products) and returns float32 images clipped to ``[0, 255]``, as the
reference clips after every op. Unlike the reference, nothing is rounded to
uint8 between ops: PIL truncates after each op (and its hue works on 8-bit
HSV); ``tests/models/test_photometric_ops.py`` bounds the difference per op.
"""
from typing import Callable, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

# PIL's RGB -> "L" weights (ITU-R 601-2 luma), used by ImageEnhance.Contrast
# (mean grey) and ImageEnhance.Color (the degenerate grey image).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
# mmpretrain's RandomGrayscale(channel_weights=(0.114, 0.587, 0.2989)) in the
# BYOL / SimCLR / MoCo v3 configs weights BGR channels and divides by their
# sum; here in RGB order.
GRAY_WEIGHTS = tuple(w / 0.9999 for w in (0.2989, 0.587, 0.114))


def _per_sample(value: Tensor) -> Tensor:
    """``(N,)`` parameters as float32 ``(N, 1, 1, 1)`` for broadcasting."""
    return value.float().view(-1, 1, 1, 1)


def _weighted_gray(images: Tensor, weights) -> Tensor:
    """``(N, 1, H, W)`` weighted sum of the RGB channels."""
    r, g, b = images.float().unbind(1)
    return (r * weights[0] + g * weights[1] + b * weights[2]).unsqueeze(1)


def adjust_brightness(images: Tensor, factor: Tensor) -> Tensor:
    """``ImageEnhance.Brightness``: blend with black, ``x * factor``."""
    return (images.float() * _per_sample(factor)).clamp_(0, 255)


def adjust_contrast(images: Tensor, factor: Tensor) -> Tensor:
    """``ImageEnhance.Contrast``: blend with the image's mean luma.

    PIL rounds the mean of its 8-bit luma image to an integer; the mean of
    the float luma is used here (at most 0.5 apart before the blend).
    """
    images = images.float()
    # The mean luma is the luma of the channel means: one reduction.
    luma = images.new_tensor(LUMA_WEIGHTS)
    mean = (images.mean(dim=(2, 3)) @ luma).view(-1, 1, 1, 1)
    factor = _per_sample(factor)
    return torch.addcmul(mean * (1 - factor), images, factor).clamp_(0, 255)


def adjust_saturation(images: Tensor, factor: Tensor) -> Tensor:
    """``ImageEnhance.Color`` (mmcv's ``adjust_color``): blend with luma."""
    images = images.float()
    factor = _per_sample(factor)
    gray = _weighted_gray(images, LUMA_WEIGHTS).mul_(1 - factor)
    return torch.addcmul(gray, images, factor).clamp_(0, 255)


# Offsets, in sextants, of the closed-form HSV -> RGB below.
_HUE_OFFSETS = (5.0, 3.0, 1.0)


def adjust_hue(images: Tensor, factor: Tensor) -> Tensor:
    """Rotate the HSV hue by ``factor`` turns (in [-0.5, 0.5]).

    The reference (mmcv ``adjust_hue``, pillow backend) converts to 8-bit
    HSV, adds ``int(factor * 255)`` to H modulo 256 and converts back. Here
    the HSV round trip is exact in float: a hue rotation keeps each pixel's
    max (V) and max - min (chroma), so only the hue is computed and each
    channel rebuilt with the closed form ``V - C * clamp(min(k, 4 - k), 0,
    1)``, ``k = (n + 6 * hue) mod 6`` with ``n = 5, 3, 1`` for R, G, B.
    """
    images = images.float()
    r, g, b = images.unbind(1)
    maxc = images.amax(dim=1)
    chroma = maxc - images.amin(dim=1)
    # Hue in sextants: (g - b) / C, 2 + (b - r) / C or 4 + (r - g) / C by
    # which channel is the max, R first on ties (as PIL). Grey pixels
    # (C = 0) have no hue; any value rebuilds them unchanged.
    hue = torch.where(
        maxc == r, g - b,
        torch.where(maxc == g, b - r + 2 * chroma, r - g + 4 * chroma))
    hue = hue.div_(torch.where(chroma > 0, chroma, torch.ones_like(chroma)))
    hue = hue.add_(6 * factor.float().view(-1, 1, 1))
    offsets = images.new_tensor(_HUE_OFFSETS).view(1, 3, 1, 1)
    k = torch.remainder(hue.unsqueeze(1) + offsets, 6)
    ramp = torch.minimum(k, 4 - k).clamp_(0, 1)
    return torch.addcmul(maxc.unsqueeze(1), chroma.unsqueeze(1), ramp,
                         value=-1).clamp_(0, 255)


def grayscale(images: Tensor) -> Tensor:
    """``RandomGrayscale(keep_channels=True)`` of the recipes: grey RGB.

    The reference truncates the weighted sum to uint8; this does not.
    """
    return _weighted_gray(images, GRAY_WEIGHTS).expand(
        -1, 3, -1, -1).clamp(0, 255)


def box_blur_radius(sigma: Tensor) -> Tuple[Tensor, Tensor]:
    """PIL's extended box for ``GaussianBlur(radius=sigma)``, three passes.

    Pillow approximates a Gaussian of standard deviation ``sigma`` by three
    passes of an "extended box" (Gwosdek et al., SSVM 2011) whose variance
    sums to ``sigma ** 2``: ``l`` whole pixels on each side of the centre
    with weight 1 and a fraction ``a`` of the next pixel
    (``_gaussian_blur_radius`` in Pillow's ``BoxBlur.c``).

    Args:
        sigma (Tensor): ``(N,)`` standard deviations, > 0.

    Returns:
        Tuple[Tensor, Tensor]: ``l`` and ``a``, each ``(N,)`` float32.
    """
    var = sigma.float()**2 / 3
    length = torch.sqrt(12 * var + 1)
    whole = torch.floor((length - 1) / 2)
    frac = (2 * whole + 1) * (whole * (whole + 1) - 3 * var)
    frac = frac / (6 * (var - (whole + 1)**2))
    return whole, frac


def box_blur_operator(sigma: Tensor, size: int) -> Tensor:
    """PIL's ``GaussianBlur`` along one axis of ``size`` pixels, as matrices.

    Each of the three passes replicates the edge pixels (as Pillow's box
    blur does), so near the borders the result is not one convolution; the
    exact linear map is built by running the passes on the identity.

    Args:
        sigma (Tensor): ``(N,)`` standard deviations, > 0.
        size (int): Length of the axis.

    Returns:
        Tensor: ``(N, size, size)`` float32 ``R`` with ``blurred = x @ R``
        for rows ``x`` (so its transpose is the operator on columns).
    """
    whole, frac = box_blur_radius(sigma)
    half = int(whole.max()) + 1  # one sync: the widest box of the batch
    taps = torch.arange(-half, half + 1, device=sigma.device).abs().float()
    whole, frac = whole.view(-1, 1), frac.view(-1, 1)
    weights = torch.where(taps <= whole, torch.ones_like(taps),
                          torch.where(taps == whole + 1, frac,
                                      torch.zeros_like(taps)))
    weights = (weights / weights.sum(dim=1, keepdim=True)).view(
        -1, 1, 1, 2 * half + 1)
    rows = torch.eye(size, device=sigma.device).expand(
        sigma.shape[0], size, size)
    for _ in range(3):
        padded = F.pad(rows, (half, half), mode='replicate')
        rows = padded[..., :size] * weights[..., 0]
        for tap in range(1, 2 * half + 1):
            rows.addcmul_(padded[..., tap:tap + size], weights[..., tap])
    return rows


def gaussian_blur(images: Tensor, sigma: Tensor) -> Tensor:
    """mmpretrain's ``GaussianBlur``: PIL's blur with a per-sample sigma.

    The blur along each axis is one batched matrix product with the exact
    operator of Pillow's three box passes (:func:`box_blur_operator`):
    ``O(H + W)`` multiply-adds per pixel, but a GEMM, which every device
    runs near its peak, and no kernel-size rule to approximate. Autocast is
    off inside: a half-precision product would cost up to a level.

    Args:
        images (Tensor): ``(N, 3, H, W)`` floats.
        sigma (Tensor): ``(N,)`` standard deviations in pixels (PIL's
            ``radius``), each > 0.

    Returns:
        Tensor: The blurred float32 images.
    """
    with torch.autocast(images.device.type, enabled=False):
        height, width = images.shape[-2:]
        along_w = box_blur_operator(sigma, width)
        along_h = along_w if height == width else box_blur_operator(
            sigma, height)
        out = torch.matmul(images.float(), along_w.unsqueeze(1))
        return torch.matmul(along_h.transpose(1, 2).unsqueeze(1), out)


def solarize(images: Tensor, threshold: float) -> Tensor:
    """``mmcv.solarize``: values ``>= threshold`` become ``255 - value``."""
    images = images.float()
    # x + (255 - 2x) on the inverted ones: fewer passes than torch.where.
    return (images >= threshold).float().mul_(255 - 2 * images).add_(images)


def apply_to(images: Tensor, mask: Tensor, op: Callable, *params: Tensor,
             **kwargs) -> Tensor:
    """Apply ``op`` to the samples where ``mask`` is True, in place.

    Only the selected samples are computed (the ops cost several passes
    over the batch, the copies one). Finding them syncs a CUDA stream once.

    Args:
        images (Tensor): ``(N, 3, H, W)`` float32 images, updated in place.
        mask (Tensor): ``(N,)`` bool, which samples to change.
        op (Callable): One of the ops above.
        *params (Tensor): Its ``(N,)`` per-sample parameters.
        **kwargs: Its other arguments, shared by all samples.

    Returns:
        Tensor: ``images``.
    """
    index = mask.nonzero().squeeze(1)
    if index.numel() == images.shape[0]:
        images.copy_(op(images, *params, **kwargs))
    elif index.numel() > 0:
        images[index] = op(images[index], *(p[index] for p in params),
                           **kwargs)
    return images


JITTER_OPS = (adjust_brightness, adjust_contrast, adjust_saturation,
              adjust_hue)


def color_jitter(images: Tensor, apply: Tensor, order: Tensor,
                 factors: Tensor,
                 active: Sequence[bool] = (True, ) * 4) -> Tensor:
    """mmpretrain's ``RandomApply([ColorJitter(...)])`` on a batch.

    Args:
        images (Tensor): ``(N, 3, H, W)`` float32 RGB images, 0..255,
            changed in place.
        apply (Tensor): ``(N,)`` bool, which samples are jittered.
        order (Tensor): ``(N, 4)`` per-sample permutation of the op indices
            0 brightness, 1 contrast, 2 saturation, 3 hue (``trans_inds``
            of mmpretrain's ``ColorJitter``).
        factors (Tensor): ``(N, 4)`` the four factors in that index order:
            brightness, contrast and saturation factors (1 = unchanged) and
            the hue shift in turns (0 = unchanged).
        active (Sequence[bool]): Which of the four ops to run at all (an
            identity factor range is skipped, as mmpretrain does).

    Returns:
        Tensor: ``images``.
    """
    for step in range(4):
        for op_index, op in enumerate(JITTER_OPS):
            if not active[op_index]:
                continue
            mask = apply & (order[:, step] == op_index)
            apply_to(images, mask, op, factors[:, op_index])
    return images
