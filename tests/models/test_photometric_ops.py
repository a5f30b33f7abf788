"""Each batch op against the mmcv / mmpretrain / PIL op it replaces.

Tolerances are in uint8 levels. The references truncate to uint8 after
every op (PIL's blend casts, ``astype('uint8')``) and the batch ops do not,
so a single linear op may differ by < 1 level plus float error; PIL's blur
also rounds after each of its six box passes and its hue works on 8-bit HSV.
"""
import mmcv
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmcv.transforms import RandomGrayscale
from mmpretrain.datasets.transforms import ColorJitter, GaussianBlur, Solarize

import nnclr_plugin  # noqa: F401  (mmcv adjust_hue fix for numpy 2)
from nnclr_plugin.models.data_preprocessors import photometric_ops as ops


def photo_like(seed: int, height: int = 40, width: int = 40) -> torch.Tensor:
    """A smooth random colour field plus noise, ``(3, H, W)`` uint8 RGB."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, 5, 5, generator=gen) * 255
    img = F.interpolate(low, size=(height, width), mode='bicubic',
                        align_corners=False)
    img = img + torch.randn(1, 3, height, width, generator=gen) * 10
    return img.clamp(0, 255).round().to(torch.uint8)[0]


IMAGES = torch.stack([photo_like(s) for s in range(6)] + [
    torch.randint(0, 256, (3, 40, 40), dtype=torch.uint8,
                  generator=torch.Generator().manual_seed(99))])


def to_bgr(img: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` RGB tensor -> ``(H, W, 3)`` BGR array (LoadImage)."""
    return img.permute(1, 2, 0).numpy()[..., ::-1].copy()


def from_bgr(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(arr[..., ::-1].copy()).permute(2, 0, 1).float()


def reference(fn, images=IMAGES) -> torch.Tensor:
    return torch.stack([from_bgr(fn(to_bgr(img))) for img in images])


def check(device_out, ref, max_levels, mean_levels):
    diff = (device_out - ref).abs()
    assert diff.max() <= max_levels, diff.max()
    assert diff.mean() <= mean_levels, diff.mean()


def const(value, n=len(IMAGES)):
    return torch.full((n, ), float(value))


@pytest.mark.parametrize('factor', [0.6, 0.9, 1.25, 1.4])
def test_brightness_matches_mmcv_pillow(factor):
    ref = reference(
        lambda a: mmcv.adjust_brightness(a, factor, backend='pillow'))
    check(ops.adjust_brightness(IMAGES, const(factor)), ref, 1.01, 0.6)


@pytest.mark.parametrize('factor', [0.6, 0.9, 1.25, 1.4])
def test_contrast_matches_mmcv_pillow(factor):
    # + up to 0.5 * |1 - factor| from PIL's integer mean luma.
    ref = reference(
        lambda a: mmcv.adjust_contrast(a, factor, backend='pillow'))
    check(ops.adjust_contrast(IMAGES, const(factor)), ref, 1.3, 0.6)


@pytest.mark.parametrize('factor', [0.0, 0.2, 0.9, 1.2, 1.8])
def test_saturation_matches_mmcv_adjust_color_pillow(factor):
    # + up to 0.5 * |1 - factor| from PIL's 8-bit luma image.
    ref = reference(
        lambda a: mmcv.adjust_color(a, alpha=factor, backend='pillow'))
    check(ops.adjust_saturation(IMAGES, const(factor)), ref, 1.5, 0.6)


@pytest.mark.parametrize('shift', [-51, -25, -3, 4, 25, 51, 127])
def test_hue_matches_mmcv_pillow_within_its_8bit_hsv(shift):
    # mmcv shifts H by int(factor * 255) levels of 8-bit HSV; a factor just
    # above shift / 255 makes both sides shift by the same angle. PIL's
    # truncation of H and S to 8 bits alone moves saturated pixels by up to
    # 6 levels (see the next test), twice here (H before and after).
    factor = (shift + np.sign(shift) * 1e-6) / 255
    ref = reference(lambda a: mmcv.adjust_hue(a, factor, backend='pillow'))
    check(ops.adjust_hue(IMAGES, const(factor)), ref, 13, 1.2)


def test_the_hue_reference_is_itself_off_by_up_to_6_levels():
    ref = reference(lambda a: mmcv.adjust_hue(a, 0.0, backend='pillow'))
    assert (ref - IMAGES.float()).abs().max() == 6
    # The float HSV round trip is exact.
    torch.testing.assert_close(ops.adjust_hue(IMAGES, const(0.0)),
                               IMAGES.float(), atol=1e-3, rtol=0)


def test_grayscale_matches_random_grayscale_of_the_recipes():
    gray = RandomGrayscale(prob=1.0, keep_channels=True,
                           channel_weights=(0.114, 0.587, 0.2989))
    ref = reference(lambda a: gray.transform({'img': a})['img'])
    out = ops.grayscale(IMAGES)
    assert (out[:, 0] == out[:, 1]).all() and (out[:, 1] == out[:, 2]).all()
    diff = out - ref  # the reference truncates: 0 <= diff < 1
    assert diff.min() >= -1e-3 and diff.max() < 1 + 1e-3


@pytest.mark.parametrize('sigma', [0.1, 0.3, 0.7, 1.0, 1.5, 2.0])
def test_blur_matches_mmpretrain_gaussian_blur(sigma):
    # Also near the borders: PIL replicates the edge in each of its passes.
    blur = GaussianBlur(radius=sigma, prob=1.0)
    images = torch.cat([IMAGES[:, :, :, :32],
                        IMAGES[:, :, :32, :].transpose(2, 3)])  # 40 x 32
    ref = reference(lambda a: blur.transform({'img': a})['img'], images)
    check(ops.gaussian_blur(images.float(), const(sigma, len(images))), ref,
          3.0, 0.9)


def test_blur_uses_each_samples_sigma():
    sigma = torch.tensor([0.1, 2.0, 0.5, 1.0, 1.5, 0.2, 0.8])
    batch = ops.gaussian_blur(IMAGES.float(), sigma)
    for i in range(len(IMAGES)):
        one = ops.gaussian_blur(IMAGES[i:i + 1].float(), sigma[i:i + 1])
        torch.testing.assert_close(batch[i:i + 1], one, atol=1e-3, rtol=0)
    # A sampled Gaussian of sigma 0.3 (neighbour weight 0.004) barely
    # blurs; PIL's box passes do (variance 0.09), more than twice the
    # tolerance above: that test would catch a plain Gaussian kernel.
    blur = GaussianBlur(radius=0.3, prob=1.0)
    ref = reference(lambda a: blur.transform({'img': a})['img'])
    assert (ref - IMAGES.float()).abs().mean() > 1.8


def test_solarize_inverts_from_the_threshold_up_like_mmcv():
    ref = reference(
        lambda a: Solarize(thr=128, prob=1.0).transform({'img': a})['img'])
    torch.testing.assert_close(ops.solarize(IMAGES, 128), ref)
    levels = torch.arange(256.).view(1, 1, 1, -1).expand(1, 3, 1, -1)
    out = ops.solarize(levels, 128)[0, 0, 0]
    assert out[127] == 127 and out[128] == 127 and out[255] == 0


def test_color_jitter_matches_mmpretrain_color_jitter_per_image_order():
    # The real ColorJitter, its draws read back by reseeding numpy.
    jitter = ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2,
                         hue=0.1)
    orders, factors, refs = [], [], []
    for i, img in enumerate(IMAGES[:6]):
        np.random.seed(i)
        order, *factor = jitter._rand_params()
        np.random.seed(i)
        refs.append(from_bgr(jitter.transform({'img': to_bgr(img)})['img']))
        orders.append(torch.as_tensor(order))
        factors.append(torch.tensor(factor, dtype=torch.float32))
    orders, factors, ref = torch.stack(orders), torch.stack(factors), \
        torch.stack(refs)
    # Four truncations and two 8-bit HSV trips, compounded: a loose max.
    apply = torch.ones(6, dtype=torch.bool)
    out = ops.color_jitter(IMAGES[:6].float(), apply, orders, factors)
    diff = (out - ref).abs().flatten()
    assert diff.mean() <= 2.0 and diff.quantile(0.99) <= 8, diff.mean()
    # The order matters: the reversed order is far off.
    wrong = ops.color_jitter(IMAGES[:6].float(), apply, orders.flip(1),
                             factors)
    assert (wrong - ref).abs().flatten().quantile(0.99) > 15
    # Samples that are not jittered are left alone.
    keep = ops.color_jitter(IMAGES[:6].float(), ~apply, orders, factors)
    assert torch.equal(keep, IMAGES[:6].float())


def test_ops_run_in_float32_under_bfloat16_autocast():
    sigma = torch.rand(len(IMAGES)) * 1.9 + 0.1
    plain = ops.gaussian_blur(ops.adjust_hue(IMAGES, const(0.1)), sigma)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        cast = ops.gaussian_blur(ops.adjust_hue(IMAGES, const(0.1)), sigma)
    assert cast.dtype == torch.float32
    torch.testing.assert_close(cast, plain, atol=1e-3, rtol=0)
