from .gray_jitter import GrayBrightnessContrast

__all__ = ['GrayBrightnessContrast']
