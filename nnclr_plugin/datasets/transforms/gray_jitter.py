"""Brightness/contrast jitter that works on single-channel images."""
from typing import Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class GrayBrightnessContrast(BaseTransform):
    """Randomly scale brightness and contrast of an image of any channel count.

    mmpretrain's ``ColorJitter`` goes through PIL in RGB mode and rejects
    grayscale arrays; this is the part of it that is meaningful for one
    channel. Factors are drawn uniformly from ``[1 - x, 1 + x]`` and the two
    adjustments are applied in random order, like torchvision's jitter.

    Args:
        brightness (float): Brightness jitter strength, >= 0.
        contrast (float): Contrast jitter strength, >= 0.
    """

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4):
        for key, value in (('brightness', brightness), ('contrast', contrast)):
            if not 0 <= value <= 1:
                raise ValueError(
                    f'GrayBrightnessContrast: {key} must be in [0, 1], '
                    f'got {value}')
        self.brightness = brightness
        self.contrast = contrast

    @staticmethod
    def _factor(strength: float) -> float:
        return float(np.random.uniform(1 - strength, 1 + strength))

    def _adjust(self, img: np.ndarray) -> Tuple[np.ndarray, Tuple[str, ...]]:
        out = img.astype(np.float32)
        order = ('brightness', 'contrast')
        if np.random.rand() < 0.5:
            order = order[::-1]
        for op in order:
            if op == 'brightness':
                out = out * self._factor(self.brightness)
            else:
                mean = out.mean()
                out = (out - mean) * self._factor(self.contrast) + mean
        return np.clip(out, 0, 255).astype(img.dtype), order

    def transform(self, results: dict) -> dict:
        results['img'], _ = self._adjust(results['img'])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(brightness={self.brightness}, '
                f'contrast={self.contrast})')
