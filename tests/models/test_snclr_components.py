import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from nnclr_plugin.models import (
    PositivenessCrossAttention,
    SoftNeighborContrastiveLoss,
    soft_neighbor_contrastive_loss,
)

init_default_scope('mmpretrain')


# ----------------------------------------------------------- positiveness
def test_parameter_free_weights_match_hand_computation():
    attn = PositivenessCrossAttention(embed_dims=2)
    assert len(list(attn.parameters())) == 0
    query = torch.tensor([[1., 0.]])
    # Candidates at 0, 60 and 90 degrees: cosines 1, 0.5, 0.
    cands = torch.tensor([[[2., 0.], [0.5, math.sqrt(3) / 2], [0., 3.]]])
    w = attn(query, cands)
    den = math.exp(1) + math.exp(0.5) + math.exp(0)
    expected = torch.tensor([[math.exp(1) / den, math.exp(0.5) / den,
                              1 / den]])
    assert torch.allclose(w, expected, atol=1e-6)


def test_weights_sum_to_one_and_ignore_other_samples_candidates():
    torch.manual_seed(0)
    attn = PositivenessCrossAttention(embed_dims=8)
    query, cands = torch.randn(4, 8), torch.randn(4, 5, 8)
    w = attn(query, cands)
    assert torch.allclose(w.sum(dim=1), torch.ones(4))
    other = cands.clone()
    other[1:] = torch.randn(3, 5, 8)  # change every other sample's set
    assert torch.equal(attn(query, other)[0], w[0])


def test_threshold_zeroes_weights_below_one_over_k():
    attn = PositivenessCrossAttention(embed_dims=2, threshold=True)
    query = torch.tensor([[1., 0.]])
    cands = torch.tensor([[[1., 0.], [-1., 0.], [0., 1.], [0., -1.]]])
    w = attn(query, cands)
    full = PositivenessCrossAttention(embed_dims=2)(query, cands)
    keep = full > 0.25
    assert torch.equal(w, full * keep) and bool((w == 0).any())


def test_learnable_heads_get_gradients_and_sum_to_one():
    torch.manual_seed(1)
    attn = PositivenessCrossAttention(embed_dims=8, learnable=True,
                                      num_heads=2)
    query = torch.randn(3, 8, requires_grad=True)
    w = attn(query, torch.randn(3, 4, 8))
    assert torch.allclose(w.sum(dim=1), torch.ones(3))
    (w * torch.arange(4.)).sum().backward()
    for name, p in attn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert query.grad is not None


def test_positiveness_bad_config():
    with pytest.raises(ValueError, match='num_heads'):
        PositivenessCrossAttention(embed_dims=8, num_heads=2)
    with pytest.raises(ValueError, match='divisible'):
        PositivenessCrossAttention(embed_dims=6, learnable=True, num_heads=4)


# ------------------------------------------------------------------- loss
def reference_soft_loss(pred, keys, cands, weights, temperature):
    """Eq. 2 built the way the release does: one row of soft labels over
    [key_j, cand_j1..cand_jK] for every sample j of the batch."""
    b, k, d = cands.shape
    pred = F.normalize(pred, dim=1)
    columns, labels = [], torch.zeros(b, b * (k + 1))
    for j in range(b):
        columns.append(F.normalize(keys[j], dim=0))
        columns.extend(F.normalize(cands[j], dim=1))
    columns = torch.stack(columns)
    for i in range(b):
        labels[i, i * (k + 1)] = 1.
        labels[i, i * (k + 1) + 1:(i + 1) * (k + 1)] = weights[i]
    log_p = (pred @ columns.T / temperature).log_softmax(dim=1)
    return (-(log_p * labels).sum(dim=1)).mean() * 2 * temperature


def test_soft_loss_equals_reference():
    torch.manual_seed(2)
    pred, keys = torch.randn(5, 6), torch.randn(5, 6)
    cands = torch.randn(5, 3, 6)
    weights = torch.rand(5, 3).softmax(dim=1)
    expected = reference_soft_loss(pred, keys, cands, weights, 0.2)
    got = soft_neighbor_contrastive_loss(pred, keys, cands, weights, 0.2)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    module = SoftNeighborContrastiveLoss(temperature=0.2, scale_by_2t=False)
    assert module(pred, keys, cands, weights).item() == pytest.approx(
        expected.item() / 0.4, rel=1e-5)


def test_soft_loss_gradient_reaches_weights():
    torch.manual_seed(3)
    weights = torch.rand(4, 3, requires_grad=True)
    soft_neighbor_contrastive_loss(torch.randn(4, 6), torch.randn(4, 6),
                                   torch.randn(4, 3, 6), weights).backward()
    assert weights.grad is not None and bool((weights.grad > 0).all())


@pytest.mark.parametrize('temperature', [0., -1.])
def test_soft_loss_rejects_bad_temperature(temperature):
    with pytest.raises(ValueError, match='temperature'):
        SoftNeighborContrastiveLoss(temperature=temperature)


# ------------------------------------------------------------------- head
def predictor_cfg(dim=8):
    return dict(
        type='NonLinearNeck', in_channels=dim, hid_channels=16,
        out_channels=dim, num_layers=2, with_bias=False, with_last_bn=False,
        with_avg_pool=False, norm_cfg=dict(type='BN1d'))


def soft_head(k=3, size=32, **kwargs):
    return MODELS.build(
        dict(type='SoftNeighborHead', predictor=predictor_cfg(),
             queue=dict(type='SupportSetQueue', size=size, feat_dim=8),
             k=k, **kwargs))


def mocov3_head_like(head):
    ref = MODELS.build(
        dict(type='MoCoV3Head', predictor=predictor_cfg(),
             loss=dict(type='CrossEntropyLoss', loss_weight=2 * 0.2),
             temperature=0.2))
    ref.predictor.load_state_dict(head.predictor.state_dict())
    return ref.eval()


@pytest.mark.parametrize('k, fill', [(0, 20), (3, 0)],
                         ids=['k=0', 'empty-queue'])
def test_without_neighbours_the_head_is_mocov3(k, fill):
    torch.manual_seed(4)
    head = soft_head(k=k).eval()
    if fill:
        head.queue.enqueue(torch.randn(fill, 8))
    q, key = torch.randn(6, 8), torch.randn(6, 8)
    ref = mocov3_head_like(head)
    assert head.loss(q, key).item() == pytest.approx(
        ref.loss(q, key).item(), rel=1e-6)


def test_head_uses_the_top_k_memory_entries_of_the_key():
    torch.manual_seed(5)
    head = soft_head(k=3).eval()
    rows = torch.randn(20, 8)
    head.queue.enqueue(rows)
    q, key = torch.randn(4, 8), torch.randn(4, 8)
    unit = F.normalize(rows, dim=1)
    top = (F.normalize(key, dim=1) @ unit.T).topk(3, dim=1).indices
    cands = unit[top]
    weights = head.positiveness(q, cands)
    pred = head.predictor([q])[0]
    expected = reference_soft_loss(pred, key, cands, weights, 0.2)
    assert head.loss(q, key).item() == pytest.approx(expected.item(),
                                                     rel=1e-5)


def test_weights_are_trained_through_the_query_unless_detached():
    torch.manual_seed(6)
    rows, key, q0 = torch.randn(20, 8), torch.randn(4, 8), torch.randn(4, 8)
    grads = {}
    for detach in (False, True):
        torch.manual_seed(7)
        head = soft_head(k=3, detach_weights=detach).eval()
        head.queue.enqueue(rows)
        q = q0.clone().requires_grad_(True)
        head.loss(q, key).backward()
        grads[detach] = q.grad
    # Same parameters and inputs: the only difference is the gradient that
    # flows through the positiveness weights into the attention query.
    assert not torch.allclose(grads[False], grads[True])


def test_head_bad_k():
    with pytest.raises(ValueError, match=r'k=33 .*queue.size=32'):
        soft_head(k=33)


@pytest.mark.parametrize('kwargs', [dict(threshold=0.5), dict(learnable=1),
                                    dict(num_heads=0), dict(scale=0.0)])
def test_positiveness_arguments_are_checked(kwargs):
    from nnclr_plugin.models.heads import PositivenessCrossAttention
    key = next(iter(kwargs))
    with pytest.raises(ValueError, match=f'{key}'):
        PositivenessCrossAttention(embed_dims=8, **kwargs)


def small_soft_neighbor_head(dim: int, size: int):
    from mmpretrain.registry import MODELS
    return MODELS.build(dict(
        type='SoftNeighborHead',
        predictor=dict(type='NonLinearNeck', in_channels=dim,
                       hid_channels=dim, out_channels=dim,
                       with_avg_pool=False),
        queue=dict(type='SupportSetQueue', size=size, feat_dim=dim), k=4))


def test_peakedness_of_flat_and_one_hot_weights():
    head = small_soft_neighbor_head(dim=8, size=16)
    queue = head.queue
    queue.begin_step()
    head.record_peakedness(torch.full((3, 4), 0.25))
    flat = queue.end_step()
    queue.begin_step()
    head.record_peakedness(torch.eye(4)[:3])
    one_hot = queue.end_step()
    assert flat['positiveness_max'] == pytest.approx(0.25)
    assert flat['positiveness_entropy'] == pytest.approx(1.0)
    assert one_hot['positiveness_max'] == pytest.approx(1.0)
    assert one_hot['positiveness_entropy'] == pytest.approx(0.0, abs=1e-6)


def test_weighted_label_agreement_counts_positiveness_mass():
    head = small_soft_neighbor_head(dim=4, size=8)
    # Rows 0-3 are class 0 along e0, rows 4-7 class 1 along e1 (tilted so
    # that all eight are distinct).
    feats = torch.zeros(8, 4)
    feats[:4, 0], feats[4:, 1] = 1.0, 1.0
    feats[:, 2] = torch.arange(8) * 0.01
    head.queue.enqueue(feats, labels=torch.tensor([0] * 4 + [1] * 4))
    # A class-0 query halfway between both clusters; k = 8 takes every row,
    # half of them of its class.
    head.queue.begin_step(dict(labels=torch.tensor([0])))
    nbrs = head.queue.nearest(torch.tensor([[1.0, 1.0, 0.0, 0.0]]), k=8)
    same = head.queue.labels_of(nbrs)[1] == 0
    weights = torch.where(same, 0.2, 0.05)  # 4 x 0.2 + 4 x 0.05 = 1
    head.record_label_agreement(weights, nbrs)
    stats = head.queue.end_step()
    assert stats['candidate_label_agreement'] == pytest.approx(0.5)
    assert stats['weighted_label_agreement'] == pytest.approx(0.8)
    # Unknown query labels (no hook) leave both out rather than count -1.
    head.queue.begin_step(dict(labels=None))
    head.record_label_agreement(weights, nbrs)
    assert head.queue.end_step() == {}


@pytest.mark.parametrize('cfg,key', [
    (dict(type='SupportSetQueue', size=8, feat_dim=4, track_labels=0),
     'track_labels'),
    (dict(type='SupportSetQueue', size=8, feat_dim=4,
          gather_distributed='yes'), 'gather_distributed'),
    (dict(type='SoftNeighborContrastiveLoss', scale_by_2t=2), 'scale_by_2t'),
    (dict(type='SoftNeighborHead', detach_weights=0.5, k=2,
          predictor=dict(type='NonLinearNeck', in_channels=4,
                         hid_channels=4, out_channels=4,
                         with_avg_pool=False),
          queue=dict(type='SupportSetQueue', size=8, feat_dim=4)),
     'detach_weights'),
])
def test_flags_must_be_bools(cfg, key):
    from mmpretrain.registry import MODELS
    with pytest.raises(ValueError, match=f'{key} must be a bool'):
        MODELS.build(cfg)


# A bool is an int to Python: k=True or size=True must not mean 1.
@pytest.mark.parametrize('cfg,message', [
    (dict(type='SupportSetQueue', size=True, feat_dim=4),
     'size must be an int >= 1'),
    (dict(type='SupportSetQueue', size=8, feat_dim=4, block_size=0),
     "block_size must be None, 'auto' or an int >= 1"),
    (dict(type='SupportSetQueue', size=8, feat_dim=4, block_size='full'),
     "block_size must be None, 'auto' or an int >= 1"),
    (dict(type='PositivenessCrossAttention', embed_dims=4, num_heads=True),
     'num_heads must be an int >= 1'),
    (dict(type='PositivenessCrossAttention', embed_dims=4,
          scale=float('nan')), 'scale must be > 0 or None'),
    (dict(type='SoftNeighborContrastiveLoss', temperature=float('nan')),
     'temperature must be > 0'),
    (dict(type='NNContrastiveLoss', temperature=True),
     'temperature must be > 0'),
    (dict(type='BatchMultiViewPreprocessor', mean=[0.], std=[1.],
          num_views=2.0),
     'num_views must be an int >= 1'),
])
def test_numbers_must_be_real_numbers(cfg, message):
    from mmpretrain.registry import MODELS
    with pytest.raises(ValueError, match=message):
        MODELS.build(cfg)


def test_hook_warmup_must_be_an_int():
    from nnclr_plugin.engine.hooks import SupportSetQueueHook
    with pytest.raises(ValueError, match='warmup_iters must be an int >= 0'):
        SupportSetQueueHook(warmup_iters=True)


def test_neck_and_queue_dims_are_checked_before_the_first_step(tmp_path):
    """SNCLR runs on mmpretrain's MoCoV3, which does not check its neck
    against the support-set head: the hook does, before iteration 1, naming
    both keys (issue 24; before: a matmul shape error in the first step)."""
    from helpers import SNCLR_DEMO, small_train_cfg
    from mmengine.runner import Runner
    cfg = small_train_cfg(SNCLR_DEMO, str(tmp_path), max_iters=1)
    cfg.model.neck.out_channels = 64  # the queue stores 128-d rows
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r'model.neck outputs 64-d '
                       r'projections but model.head.queue.feat_dim=128'):
        runner.train()
    assert runner.iter == 0
