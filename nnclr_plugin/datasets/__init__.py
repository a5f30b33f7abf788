from .fashion_mnist import LocalFashionMNIST
from .transforms import GrayBrightnessContrast

__all__ = ['LocalFashionMNIST', 'GrayBrightnessContrast']
