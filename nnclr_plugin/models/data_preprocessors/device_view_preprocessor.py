"""The photometric half of the SSL view recipes, made on the batch."""
import difflib
import numbers
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS
from torch import Tensor

from . import photometric_ops as ops

OWNER = 'DeviceViewPreprocessor'
# One view's options and their defaults: the colour jitter of MoCo v3 /
# BYOL / NNCLR (SimCLR's mmpretrain config uses 0.8, 0.8, 0.8, 0.2), the
# greyscale probability of all of them, SimCLR's symmetric blur
# probability and no solarization. BYOL and MoCo v3 set two views
# (blur 1.0 / 0.1, solarize 0.0 / 0.2).
VIEW_DEFAULTS = dict(
    jitter_prob=0.8, brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1,
    gray_prob=0.2, blur_prob=0.5, blur_sigma=(0.1, 2.0), solarize_prob=0.0,
    solarize_threshold=128)
JITTER_KEYS = ('brightness', 'contrast', 'saturation', 'hue')


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _fail(name: str, rule: str, value) -> None:
    raise ValueError(f'{OWNER}: {name} must be {rule}, got {value!r}')


def _check_pair(name: str, value, low: float, high: float,
                low_open: bool = False) -> Tuple[float, float]:
    ok = (isinstance(value, (tuple, list)) and len(value) == 2
          and all(_is_number(v) for v in value)
          and low <= value[0] <= value[1] <= high
          and not (low_open and value[0] == low))
    if not ok:
        bound = f'{low} < min' if low_open else f'{low} <= min'
        _fail(name, f'a pair (min, max) with {bound} <= max <= {high}', value)
    return float(value[0]), float(value[1])


def _jitter_range(name: str, key: str, value) -> Tuple[float, float]:
    """A factor range as mmpretrain's ``ColorJitter`` reads its argument.

    A number ``x`` means ``[max(0, 1 - x), 1 + x]`` (mmpretrain clips the
    lower end to 0) and, for hue, ``[-x, x]`` of a turn, ``x <= 0.5``.
    """
    if key == 'hue':
        if _is_number(value):
            if not 0 <= value <= 0.5:
                _fail(name, 'a number in [0, 0.5] or a pair in [-0.5, 0.5]',
                      value)
            return -float(value), float(value)
        return _check_pair(name, value, -0.5, 0.5)
    if _is_number(value):
        if not value >= 0:
            _fail(name, 'a number >= 0 or a pair (min, max), 0 <= min <= max',
                  value)
        return max(0.0, 1 - float(value)), 1 + float(value)
    return _check_pair(name, value, 0.0, float('inf'))


def check_view(index: int, view) -> Dict[str, object]:
    """Validate one view's options; return them complete, as floats.

    Args:
        index (int): The view's position, for messages.
        view (dict): Options, a subset of :data:`VIEW_DEFAULTS`.

    Returns:
        dict: Every option; jitter strengths as ``(min, max)`` factor ranges.
    """
    prefix = f'data_preprocessor.views[{index}]'
    if not isinstance(view, dict):
        _fail(prefix, 'a dict of view options', view)
    for key in view:
        if key not in VIEW_DEFAULTS:
            close = difflib.get_close_matches(str(key), VIEW_DEFAULTS, n=1)
            hint = f' (did you mean {close[0]!r}?)' if close else ''
            raise ValueError(
                f'{OWNER}: {prefix}.{key} is not an option{hint}; the '
                f'options are {", ".join(VIEW_DEFAULTS)}')
    cfg = {**VIEW_DEFAULTS, **view}
    out = {}
    for key, value in cfg.items():
        name = f'{prefix}.{key}'
        if key.endswith('_prob'):
            if not (_is_number(value) and 0 <= value <= 1):
                _fail(name, 'a probability in [0, 1]', value)
            out[key] = float(value)
        elif key in JITTER_KEYS:
            out[key] = _jitter_range(name, key, value)
        elif key == 'blur_sigma':
            out[key] = _check_pair(name, value, 0.0, float('inf'),
                                   low_open=True)
        else:  # solarize_threshold
            if not (_is_number(value) and 0 <= value <= 256):
                _fail(name, 'a number in [0, 256]', value)
            out[key] = float(value)
    return out


@MODELS.register_module()
class DeviceViewPreprocessor(SelfSupDataPreprocessor):
    """Colour jitter, greyscale, blur and solarize of SSL views on a batch.

    mmpretrain's SimCLR / BYOL / MoCo v3 pipelines spend most of the data
    loader's CPU on four photometric ops per view. Here the loader only
    decodes, random-resized-crops and flips (``MultiView`` of those, then
    ``PackInputs``, ``default_collate``) and this preprocessor makes the
    rest on the model's device, per sample with independent parameters, in
    the reference order: ``RandomApply([ColorJitter], jitter_prob)`` with
    mmpretrain's per-image random order of the four jitter ops,
    ``RandomGrayscale(gray_prob, keep_channels=True)``,
    ``GaussianBlur(magnitude_range=blur_sigma, magnitude_std='inf',
    prob=blur_prob)`` and ``Solarize(thr=solarize_threshold,
    prob=solarize_prob)``, then mean/std normalisation. The ops follow
    mmcv's pillow backend and PIL (see :mod:`photometric_ops` for each op
    and how far from the reference it may be); images stay float between
    ops instead of being truncated to uint8.

    Randomness comes from torch's default generator of the input's device,
    so ``torch.manual_seed`` (which mmengine's seeding calls) reproduces the
    views. Computation is float32 with autocast off. In evaluation
    (``training=False``) it is ``SelfSupDataPreprocessor``.

    Args:
        mean (Sequence[float]): Per-channel mean, 0..255 scale, in the
            model's channel order.
        std (Sequence[float]): Per-channel standard deviation.
        views (dict | Sequence[dict], optional): Options of each view, in
            the order of the loader's views; one dict (or None, the
            defaults) is used for every view. Keys (defaults in
            :data:`VIEW_DEFAULTS`): ``jitter_prob``; ``brightness``,
            ``contrast``, ``saturation`` (number ``x`` for factors in
            ``[max(0, 1 - x), 1 + x]``, or ``(min, max)``); ``hue`` (number
            ``x <= 0.5`` for shifts in ``[-x, x]`` turns, or ``(min, max)``);
            ``gray_prob``; ``blur_prob``; ``blur_sigma`` ``(min, max)`` in
            pixels; ``solarize_prob``; ``solarize_threshold`` (values ``>=``
            it are inverted).
        **kwargs: Other arguments of ``SelfSupDataPreprocessor``
            (``to_rgb`` etc.). Inputs are BGR unless ``rgb_to_bgr=True``.
    """

    def __init__(self,
                 mean: Sequence[float],
                 std: Sequence[float],
                 views: Optional[Union[dict, Sequence[dict]]] = None,
                 **kwargs) -> None:
        super().__init__(mean=mean, std=std, **kwargs)
        if views is None or isinstance(views, dict):
            views = [views or {}]
        elif not isinstance(views, (list, tuple)) or not views:
            _fail('data_preprocessor.views',
                  'a dict or a non-empty list of dicts', views)
        self.views = [check_view(i, view) for i, view in enumerate(views)]
        # LoadImageFromFile gives BGR; rgb_to_bgr says the input is RGB.
        self._input_bgr = not kwargs.get('rgb_to_bgr', False)

    def sample_params(self, view: dict, num: int,
                      device: torch.device) -> Dict[str, Tensor]:
        """Draw one view's parameters for ``num`` samples.

        Always the same draws in the same order, whatever the options, so a
        seed gives the same views.

        Args:
            view (dict): Checked options (:func:`check_view`).
            num (int): Batch size.
            device (torch.device): Where to draw.

        Returns:
            dict: ``(num,)`` bool masks ``jitter``, ``gray``, ``blur``,
            ``solarize``; ``order`` ``(num, 4)`` permutations of the jitter
            ops; ``factors`` ``(num, 4)``; ``sigma`` ``(num,)``.
        """
        def uniform(low_high: Tuple[float, float], *shape: int) -> Tensor:
            low, high = low_high
            return torch.rand(num, *shape, device=device) * (high - low) + low

        def chance(prob: float) -> Tensor:
            return torch.rand(num, device=device) < prob

        params = dict(jitter=chance(view['jitter_prob']))
        # A uniformly random permutation per sample (np.random.permutation
        # in mmpretrain's ColorJitter).
        params['order'] = torch.rand(num, 4, device=device).argsort(dim=1)
        params['factors'] = torch.stack(
            [uniform(view[key]) for key in JITTER_KEYS], dim=1)
        params['gray'] = chance(view['gray_prob'])
        params['blur'] = chance(view['blur_prob'])
        params['sigma'] = uniform(view['blur_sigma'])
        params['solarize'] = chance(view['solarize_prob'])
        return params

    def augment(self, images: Tensor, view: dict,
                params: Dict[str, Tensor]) -> Tensor:
        """Apply one view's photometric ops to ``(N, 3, H, W)`` RGB floats.

        Args:
            images (Tensor): float32 RGB, 0..255; changed in place.
            view (dict): Checked options.
            params (dict): From :meth:`sample_params`.

        Returns:
            Tensor: The augmented images, 0..255.
        """
        # Skip what cannot change an image (mmpretrain's ColorJitter skips
        # factor ranges that are the identity, RandomApply a zero prob).
        active = [view[key] != ((0.0, 0.0) if key == 'hue' else (1.0, 1.0))
                  for key in JITTER_KEYS]
        if view['jitter_prob'] > 0 and any(active):
            ops.color_jitter(images, params['jitter'], params['order'],
                             params['factors'], active=active)
        if view['gray_prob'] > 0:
            ops.apply_to(images, params['gray'], ops.grayscale)
        if view['blur_prob'] > 0:
            ops.apply_to(images, params['blur'], ops.gaussian_blur,
                         params['sigma'])
        if view['solarize_prob'] > 0:
            ops.apply_to(images, params['solarize'], ops.solarize,
                         threshold=view['solarize_threshold'])
        return images

    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalise the views; when training, augment them first.

        Args:
            data (dict): A ``default_collate`` batch whose ``inputs`` is a
                list of ``(N, 3, H, W)`` views (``MultiView``,
                ``PackInputs``).
            training (bool): Whether to augment.

        Returns:
            dict: ``inputs``, the list of normalised float32 views, and
            ``data_samples``.
        """
        if not training:
            return super().forward(data, training)
        data = self.cast_data(data)
        inputs = data['inputs']
        if not (isinstance(inputs, (list, tuple)) and inputs
                and all(isinstance(v, Tensor) and v.dim() == 4
                        and v.shape[1] == 3 for v in inputs)):
            raise ValueError(
                f'{OWNER} augments the views the data loader made: inputs '
                'must be a list of (N, 3, H, W) tensors (MultiView + '
                f'PackInputs, default_collate); got {_describe(inputs)}')
        if len(self.views) not in (1, len(inputs)):
            raise ValueError(
                f'{OWNER}: data_preprocessor.views has {len(self.views)} '
                f'entries but the data loader made {len(inputs)} views')
        flip = [2, 1, 0]
        output_bgr = self._input_bgr != self._channel_conversion
        outputs = []
        with torch.autocast(inputs[0].device.type, enabled=False):
            for index, view_input in enumerate(inputs):
                view = self.views[index if len(self.views) > 1 else 0]
                # A copy either way: the ops work in place.
                images = (view_input[:, flip] if self._input_bgr else
                          view_input.clone()).float()
                params = self.sample_params(view, images.shape[0],
                                            images.device)
                images = self.augment(images, view, params)
                if output_bgr:
                    images = images[:, flip]
                if self._enable_normalize:
                    images = (images - self.mean) / self.std
                outputs.append(images)
        return {'inputs': outputs, 'data_samples': data['data_samples']}

    def extra_repr(self) -> str:
        return f'views={self.views}'


def _describe(inputs) -> str:
    if isinstance(inputs, Tensor):
        return f'one tensor of shape {tuple(inputs.shape)}'
    if isinstance(inputs, (list, tuple)):
        return '[' + ', '.join(
            str(tuple(v.shape)) if isinstance(v, Tensor) else
            type(v).__name__ for v in inputs) + ']'
    return type(inputs).__name__
