"""mmcv 2.1's ``adjust_hue`` under numpy >= 2.

mmcv shifts the hue with ``np.uint8(hue_factor * 255)``, relying on numpy < 2
wrapping negative values; numpy 2 raises ``OverflowError``, so mmpretrain's
``ColorJitter(hue=...)`` (SimCLR, BYOL, MoCo and NNCLR augmentations)
crashes within the first batch. :func:`needed` calls the stock function on
a one-pixel image, so the fix goes away by itself once mmcv wraps the shift.
"""
import mmcv
import mmcv.image
import mmcv.image.photometric as photometric
import numpy as np
from PIL import Image

NAME = 'mmcv-adjust-hue'
STOCK = photometric.adjust_hue  # captured before apply() replaces it


def needed() -> bool:
    """Whether the stock ``adjust_hue`` overflows on a negative shift."""
    try:
        STOCK(np.zeros((1, 1, 3), np.uint8), -0.1, backend='cv2')
    except OverflowError:
        return True
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


def apply() -> None:
    """Install :func:`adjust_hue` everywhere mmcv exposes the stock one."""
    for module in (mmcv, mmcv.image, photometric):
        module.adjust_hue = adjust_hue
