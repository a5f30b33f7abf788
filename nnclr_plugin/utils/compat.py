"""Fixes for the pinned stack that every ImageNet pipeline needs.

mmcv 2.1.0's ``adjust_hue`` shifts the hue channel with
``np.uint8(hue_factor * 255)``, relying on numpy < 2 wrapping negative
values; numpy >= 2 raises ``OverflowError`` instead. mmpretrain's
``ColorJitter(hue=...)`` (SimCLR, BYOL, MoCo and NNCLR augmentations) draws
a negative shift half of the time, so training crashes within the first
batch. The replacement computes the same wrapped shift explicitly.
"""
import mmcv
import mmcv.image
import mmcv.image.photometric as photometric
import numpy as np
from PIL import Image


def _wraps_negative_uint8() -> bool:
    try:
        return int(np.uint8(-1.5)) == 255
    except OverflowError:
        return False


def adjust_hue(img: np.ndarray, hue_factor: float, backend=None) -> np.ndarray:
    """mmcv's ``adjust_hue`` with the hue shift wrapped modulo 256.

    Args:
        img (ndarray): BGR image (or 2-D grayscale, returned unchanged).
        hue_factor (float): Shift in [-0.5, 0.5] of a full hue turn.
        backend (str, optional): ``'cv2'`` or ``'pillow'``; None uses
            mmcv's image backend.

    Returns:
        ndarray: The hue-shifted image, same dtype.
    """
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not (isinstance(img, np.ndarray) and img.ndim in (2, 3)):
        raise TypeError('img should be ndarray with dim=[2 or 3].')
    backend = backend or photometric.imread_backend
    if backend not in ('cv2', 'pillow'):
        raise ValueError(f'backend: {backend} is not supported.')
    if img.ndim == 2:
        return img  # hue is undefined for grayscale
    # int() truncates toward zero, as the uint8 cast of numpy < 2 did.
    shift = np.uint8(int(hue_factor * 255) % 256)
    dtype = img.dtype
    if backend == 'pillow':
        hsv = Image.fromarray(img[..., ::-1].astype(np.uint8),
                              mode='RGB').convert('HSV')
        h, s, v = (np.array(c, dtype=np.uint8) for c in hsv.split())
        h = h + shift  # uint8 arithmetic wraps around the hue circle
        rgb = Image.merge('HSV', [Image.fromarray(c, 'L') for c in (h, s, v)])
        return np.array(rgb.convert('RGB'), dtype=dtype)[..., ::-1]
    import cv2
    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    hsv[..., 0] = hsv[..., 0] + shift
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL).astype(dtype)


def patch_mmcv_adjust_hue() -> bool:
    """Install :func:`adjust_hue` where mmcv exposes it, if numpy needs it.

    Returns:
        bool: Whether the patch was needed and installed.
    """
    if _wraps_negative_uint8():
        return False
    for module in (mmcv, mmcv.image, photometric):
        module.adjust_hue = adjust_hue
    return True
