import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from nnclr_plugin.engine.hooks.support_set_queue_hook import batch_meta
from nnclr_plugin.models import NNContrastiveLoss, nn_contrastive_loss

init_default_scope('mmpretrain')


def reference_infonce(positives, predictions, temperature):
    """Plain-PyTorch InfoNCE, written out term by term."""
    pos = [p / p.norm() for p in positives]
    pred = [p / p.norm() for p in predictions]
    total = 0.
    for i in range(len(pos)):
        logits = [float(pos[i] @ pred[j]) / temperature
                  for j in range(len(pred))]
        log_den = math.log(sum(math.exp(v) for v in logits))
        total += log_den - logits[i]
    return total / len(pos)


def predictor_cfg(dim=8, hidden=16):
    return dict(
        type='NonLinearNeck',
        in_channels=dim,
        hid_channels=hidden,
        out_channels=dim,
        num_layers=2,
        with_last_bn=False,
        with_avg_pool=False,
        norm_cfg=dict(type='BN1d'))


def build_head(dim=8, size=32, **kwargs):
    head = MODELS.build(
        dict(
            type='NNCLRHead',
            predictor=predictor_cfg(dim),
            queue=dict(type='SupportSetQueue', size=size, feat_dim=dim),
            **kwargs))
    return head


@pytest.mark.parametrize('temperature', [0.1, 0.5])
def test_loss_equals_reference(temperature):
    torch.manual_seed(0)
    pos, pred = torch.randn(6, 5), torch.randn(6, 5)
    expected = reference_infonce(pos, pred, temperature)
    assert nn_contrastive_loss(pos, pred, temperature).item() == \
        pytest.approx(expected, rel=1e-5)
    module = NNContrastiveLoss(temperature=temperature, loss_weight=2.)
    assert module(pos, pred).item() == pytest.approx(2 * expected, rel=1e-5)


@pytest.mark.parametrize('temperature', [0, -0.1, None])
def test_non_positive_temperature_is_rejected(temperature):
    with pytest.raises(ValueError, match='temperature'):
        NNContrastiveLoss(temperature=temperature)
    with pytest.raises(ValueError, match='temperature'):
        MODELS.build(dict(type='NNContrastiveLoss', temperature=temperature))


def test_loss_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match='same shape'):
        nn_contrastive_loss(torch.randn(4, 3), torch.randn(4, 5))


def test_empty_queue_uses_the_target_itself_without_gradient():
    torch.manual_seed(1)
    head = build_head().eval()
    base = torch.randn(6, 8)
    target = torch.randn(6, 8, requires_grad=True)
    loss = head.loss(base, target)
    pred = head.predictor([base])[0]
    assert loss.item() == pytest.approx(
        reference_infonce(target.detach(), pred.detach(), 0.1), rel=1e-5)
    loss.backward()
    assert target.grad is None  # the positive is detached, like a neighbour


def test_positive_is_the_nearest_support_row():
    torch.manual_seed(2)
    head = build_head().eval()
    rows = torch.randn(20, 8)
    head.queue.enqueue(rows)
    base, target = torch.randn(5, 8), torch.randn(5, 8)
    sims = F.normalize(target, dim=1) @ F.normalize(rows, dim=1).T
    nearest = F.normalize(rows, dim=1)[sims.argmax(dim=1)]
    assert torch.allclose(head.positives(target), nearest)
    pred = head.predictor([base])[0].detach()
    assert head.loss(base, target).item() == pytest.approx(
        reference_infonce(nearest, pred, 0.1), rel=1e-5)


def test_topk_mean_and_sample_modes():
    torch.manual_seed(3)
    rows = torch.randn(20, 8)
    target = torch.randn(4, 8)
    order = (F.normalize(target, dim=1) @ F.normalize(rows, dim=1).T
             ).argsort(dim=1, descending=True)[:, :3]
    unit = F.normalize(rows, dim=1)

    mean_head = build_head(k=3, topk_mode='mean').eval()
    mean_head.queue.enqueue(rows)
    expected = F.normalize(unit[order].mean(dim=1), dim=1)
    assert torch.allclose(mean_head.positives(target), expected, atol=1e-6)

    sample_head = build_head(k=3, topk_mode='sample').eval()
    sample_head.queue.enqueue(rows)
    picks = set()
    for _ in range(20):
        pos = sample_head.positives(target)
        match = (pos[:, None, :] - unit[order]).abs().sum(-1) < 1e-5
        assert match.any(dim=1).all()  # always one of the row's top 3
        picks.add(tuple(match.float().argmax(dim=1).tolist()))
    assert len(picks) > 1  # and not always the same one


def test_enqueue_first_stashes_only_the_first_target():
    head = build_head().train()
    z1, z2 = torch.randn(4, 8), torch.randn(4, 8)
    head.queue.begin_step(dict(labels=torch.arange(4),
                                    sample_idx=torch.arange(10, 14)))
    head.loss(z2, z1)
    head.loss(z1, z2)
    head.queue.end_step()
    assert head.queue.filled == 4
    assert torch.allclose(head.queue.queue[:4], F.normalize(z1, dim=1))
    # The hook's batch metadata goes with the rows, in batch order.
    assert head.queue.labels[:4].tolist() == [0, 1, 2, 3]
    assert head.queue.sample_idx[:4].tolist() == [10, 11, 12, 13]

    head_all = build_head(enqueue='all').train()
    head_all.queue.begin_step()
    head_all.loss(z2, z1)
    head_all.loss(z1, z2)
    head_all.queue.end_step()
    assert head_all.queue.filled == 8


def test_training_without_hook_is_a_clear_error():
    head = build_head().train()
    with pytest.raises(RuntimeError, match="type='SupportSetQueueHook'"):
        head.loss(torch.randn(4, 8), torch.randn(4, 8))


@pytest.mark.parametrize('kwargs, match', [
    (dict(k=33), r'k=33 .*queue.size=32'),
    (dict(k=0), 'k=0'),
    (dict(topk_mode='max'), 'topk_mode'),
    (dict(enqueue='last'), 'enqueue'),
])
def test_bad_head_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_head(**kwargs)


def nnclr_cfg(neck_out=8, queue_dim=8, pred_in=8):
    return dict(
        type='NNCLR',
        data_preprocessor=dict(
            type='SelfSupDataPreprocessor', mean=[0.], std=[1.],
            to_rgb=False),
        backbone=dict(
            type='ResNet_CIFAR', depth=18, in_channels=1, stem_channels=8,
            base_channels=8),
        neck=dict(
            type='NonLinearNeck', in_channels=64, hid_channels=16,
            out_channels=neck_out, num_layers=3, with_last_bn=True,
            norm_cfg=dict(type='BN1d')),
        head=dict(
            type='NNCLRHead',
            predictor=dict(predictor_cfg(), in_channels=pred_in),
            queue=dict(type='SupportSetQueue', size=32, feat_dim=queue_dim)))


def test_feature_dim_mismatch_fails_at_build_time():
    with pytest.raises(ValueError,
                       match=r'model.head.queue.feat_dim=16'):
        MODELS.build(nnclr_cfg(queue_dim=16))
    with pytest.raises(ValueError, match=r'model.head.predictor'):
        MODELS.build(nnclr_cfg(pred_in=16))


def test_nnclr_loss_is_symmetrised_and_enqueues_view_one():
    torch.manual_seed(4)
    model = MODELS.build(nnclr_cfg()).train()
    model.head.queue.enqueue(torch.randn(16, 8))
    views = [torch.randn(4, 1, 32, 32), torch.randn(4, 1, 32, 32)]
    samples = [DataSample().set_gt_label(i % 3) for i in range(4)]
    # What SupportSetQueueHook does before the step.
    model.head.queue.begin_step(batch_meta(dict(data_samples=samples)))
    torch.manual_seed(5)
    loss = model.loss(views, samples)['loss']

    # The same computation by hand, from the same parameters.
    torch.manual_seed(5)
    z1 = model.neck(model.backbone(views[0]))[0]
    z2 = model.neck(model.backbone(views[1]))[0]
    p1 = model.head.predictor([z1])[0]
    p2 = model.head.predictor([z2])[0]
    bank = model.head.queue.queue[:16]

    def nn(z):
        return bank[(F.normalize(z, dim=1) @ bank.T).argmax(dim=1)]

    expected = 0.5 * (reference_infonce(nn(z1), p2.detach(), 0.1) +
                      reference_infonce(nn(z2), p1.detach(), 0.1))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    model.head.queue.end_step()
    assert model.head.queue.filled == 20
    assert torch.allclose(model.head.queue.queue[16:20],
                          F.normalize(z1.detach(), dim=1), atol=1e-6)
    assert model.head.queue.labels[16:20].tolist() == [0, 1, 2, 0]
