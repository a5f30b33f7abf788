from .fashion_mnist import LocalFashionMNIST
from .imagenet_subset import ImageNetSubset
from .transforms import GrayBrightnessContrast

__all__ = ['LocalFashionMNIST', 'GrayBrightnessContrast', 'ImageNetSubset']
