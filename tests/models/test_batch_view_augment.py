"""BatchMultiViewPreprocessor: views made on the batch with tensor ops."""
import pytest
import torch
from mmpretrain.registry import MODELS

from nnclr_plugin.models.data_preprocessors import BatchMultiViewPreprocessor


def batch(n=6, size=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, size, size), generator=gen,
                           dtype=torch.uint8)
    return dict(inputs=images, data_samples=[None] * n)


def build(**kwargs):
    cfg = dict(type='BatchMultiViewPreprocessor', mean=[0.], std=[1.],
               crop_size=8)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_identity_crop_without_jitter_returns_the_images():
    pre = build(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_prob=0.,
                jitter_prob=0.)
    data = batch()
    out = pre(dict(data), training=True)
    assert len(out['inputs']) == 2
    for view in out['inputs']:
        torch.testing.assert_close(view, data['inputs'].float(),
                                   atol=1e-4, rtol=0)


def test_flip_with_probability_one_mirrors_every_image():
    pre = build(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_prob=1.,
                jitter_prob=0.)
    data = batch()
    view = pre(dict(data), training=True)['inputs'][0]
    torch.testing.assert_close(view, data['inputs'].float().flip(-1),
                               atol=1e-4, rtol=0)


def test_half_area_crops_are_resampled_from_inside_the_image():
    # Bilinear resampling is a convex combination of input pixels, and a
    # box never leaves the image: each output lies in the input's range.
    pre = build(crop_scale=(0.2, 0.5), jitter_prob=0., crop_size=5)
    data = batch(size=16)
    views = pre(dict(data), training=True)['inputs']
    images = data['inputs'].float()
    for view in views:
        assert view.shape == (6, 1, 5, 5)
        low = images.amin(dim=(1, 2, 3)).view(-1, 1, 1, 1)
        high = images.amax(dim=(1, 2, 3)).view(-1, 1, 1, 1)
        assert (view >= low - 1e-4).all() and (view <= high + 1e-4).all()
    # Two views of the same image differ (independent draws).
    assert not torch.allclose(views[0], views[1])


def test_jitter_matches_a_per_image_reference():
    pre = build(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_prob=0.,
                jitter_prob=1.0, brightness=0.4, contrast=0.4)
    images = batch()['inputs'].float()
    torch.manual_seed(3)
    out = pre.jitter(images)
    # Same draws, in the order jitter() makes them.
    torch.manual_seed(3)
    n = images.shape[0]
    torch.rand(n)  # apply: always with jitter_prob 1
    bright = torch.rand(n) * 0.8 + 0.6
    contrast = torch.rand(n) * 0.8 + 0.6
    contrast_first = torch.rand(n) < 0.5
    for i in range(n):
        x = images[i]
        if contrast_first[i]:
            x = ((x - x.mean()) * contrast[i] + x.mean()) * bright[i]
        else:
            x = x * bright[i]
            x = (x - x.mean()) * contrast[i] + x.mean()
        torch.testing.assert_close(out[i], x.clamp(0, 255))


def test_seeded_views_are_reproducible_and_normalised():
    pre = build(mean=[100.], std=[50.])
    data = batch()
    torch.manual_seed(0)
    first = pre(dict(data), training=True)['inputs']
    torch.manual_seed(0)
    second = pre(dict(data), training=True)['inputs']
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b)
    assert first[0].abs().max() <= (255 - 100) / 50 + 1e-5


def test_eval_mode_only_normalises():
    pre = build(mean=[10.], std=[2.])
    data = batch()
    out = pre(dict(data), training=False)['inputs']
    torch.testing.assert_close(out, (data['inputs'].float() - 10.) / 2.)


def test_multi_view_input_is_a_clear_error():
    pre = build()
    data = batch()
    data['inputs'] = [data['inputs'], data['inputs']]
    with pytest.raises(ValueError, match='PackInputs without MultiView'):
        pre(data, training=True)


@pytest.mark.parametrize('key,value', [('crop_scale', (0.5, 0.2)),
                                       ('flip_prob', 1.5),
                                       ('jitter_prob', True),
                                       ('num_views', 0),
                                       ('crop_size', 0)])
def test_bad_arguments_name_the_key(key, value):
    with pytest.raises(ValueError, match=f'{key}'):
        BatchMultiViewPreprocessor(mean=[0.], std=[1.], **{key: value})
