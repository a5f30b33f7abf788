"""Linear probe: an L2-regularised logistic regression fitted by L-BFGS."""
import pytest
import torch
import torch.nn.functional as F

from nnclr_plugin.evaluation import fit_logistic_regression, linear_probe


def blobs(n, dims=8, classes=4, spread=1.0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dims, generator=gen) * 3
    labels = torch.randint(0, classes, (n, ), generator=gen)
    return centres[labels] + spread * torch.randn(n, dims,
                                                  generator=gen), labels


def test_fit_is_a_stationary_point_of_the_penalised_objective():
    feats, labels = blobs(400, spread=3.0)
    wd = 1e-2
    weight, bias = fit_logistic_regression(feats, labels, 4, wd)
    w = weight.clone().requires_grad_(True)
    b = bias.clone().requires_grad_(True)
    loss = F.cross_entropy(feats.double() @ w + b, labels) + \
        0.5 * wd * w.pow(2).sum()
    loss.backward()
    assert w.grad.abs().max() < 1e-5 and b.grad.abs().max() < 1e-5
    # The bias is not penalised: with wd > 0 the weights shrink but the
    # class priors are still fitted.
    assert bias.abs().sum() > 0


def test_stronger_penalty_gives_smaller_weights():
    feats, labels = blobs(300, spread=3.0)
    small, _ = fit_logistic_regression(feats, labels, 4, 1e-4)
    large, _ = fit_logistic_regression(feats, labels, 4, 1.0)
    assert large.norm() < small.norm()


def test_probe_separates_separable_classes_and_reports_its_choice():
    train = blobs(600, spread=0.3, seed=0)
    test = blobs(200, spread=0.3, seed=0)
    out = linear_probe(*train, *test, weight_decays=(1e-4, 1e-2))
    assert out['top1'] == 100.0 and out['val_top1'] == 100.0
    assert out['weight_decay'] in (1e-4, 1e-2)


def test_probe_picks_the_penalty_with_the_best_held_out_accuracy():
    # A huge penalty leaves weights near zero (chance accuracy); a small
    # one separates the blobs. Whatever the listing order, the small one
    # must win on the held-out split.
    train = blobs(400, spread=0.5, seed=1)
    test = blobs(200, spread=0.5, seed=1)
    for decays in ((1e3, 1e-3), (1e-3, 1e3)):
        out = linear_probe(*train, *test, weight_decays=decays)
        assert out['weight_decay'] == 1e-3
        assert out['top1'] > 95


@pytest.mark.parametrize('kwargs,match', [
    (dict(val_fraction=1.0), 'val_fraction'),
    (dict(weight_decays=()), 'weight_decays'),
    (dict(weight_decays=(-1.0, )), 'weight_decays'),
])
def test_bad_arguments_name_the_key(kwargs, match):
    train = blobs(40)
    with pytest.raises(ValueError, match=match):
        linear_probe(*train, *train, **kwargs)


def test_mismatched_lengths_are_rejected():
    feats, labels = blobs(40)
    with pytest.raises(ValueError, match='differ in length'):
        linear_probe(feats, labels[:-1], feats, labels)
