from .batch_view_augment import BatchMultiViewPreprocessor
from .device_view_preprocessor import DeviceViewPreprocessor

__all__ = ['BatchMultiViewPreprocessor', 'DeviceViewPreprocessor']
