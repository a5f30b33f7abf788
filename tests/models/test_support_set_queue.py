import pytest
import torch
import torch.nn.functional as F

from nnclr_plugin.models import SupportSetQueue
from nnclr_plugin.models.memories.cosine_topk import (
    auto_block_size,
    topk_inner_product,
)


def brute_force_topk(queue_rows: torch.Tensor, query: torch.Tensor, k: int):
    """Reference: every query against every filled row, Python loops."""
    q = F.normalize(query, dim=1)
    sims, idx = [], []
    for row in q:
        scores = torch.tensor([float(row @ r) for r in queue_rows])
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        idx.append(order)
        sims.append([scores[i] for i in order])
    return torch.tensor(idx), torch.tensor(sims)


def test_fifo_wraps_around_and_normalises():
    queue = SupportSetQueue(size=5, feat_dim=2, track_labels=True)
    rows = torch.tensor([[float(i + 1), 0.] for i in range(8)])
    queue.enqueue(rows[:3], labels=torch.arange(3))
    assert queue.filled == 3 and int(queue.ptr) == 3
    queue.enqueue(rows[3:7] * torch.tensor([[1., 1.]]),
                  labels=torch.arange(3, 7))
    # 7 rows into 5 slots: rows 5, 6 overwrote slots 0, 1.
    assert queue.filled == 5 and int(queue.ptr) == 2
    assert queue.labels.tolist() == [5, 6, 2, 3, 4]
    assert torch.allclose(queue.queue.norm(dim=1), torch.ones(5))
    queue.enqueue(rows[7:8], labels=torch.tensor([7]))
    assert queue.labels.tolist() == [5, 6, 7, 3, 4]
    assert int(queue.ptr) == 3


def test_fifo_order_of_stored_vectors():
    torch.manual_seed(0)
    queue = SupportSetQueue(size=6, feat_dim=4)
    batches = [torch.randn(4, 4) for _ in range(3)]
    for b in batches:
        queue.enqueue(b)
    stream = F.normalize(torch.cat(batches), dim=1)  # 12 rows, size 6
    # Slots hold the newest 6 rows; slot = position in stream mod 6.
    expected = torch.empty(6, 4)
    for pos in range(6, 12):
        expected[pos % 6] = stream[pos]
    assert torch.equal(queue.queue, expected)


@pytest.mark.parametrize('k', [1, 5])
def test_nearest_matches_brute_force_on_filled_part(k):
    torch.manual_seed(1)
    queue = SupportSetQueue(size=64, feat_dim=8)
    queue.enqueue(torch.randn(40, 8))  # partly filled: 24 zero rows left
    query = torch.randn(7, 8)
    nbrs = queue.nearest(query, k)
    ref_idx, ref_sims = brute_force_topk(queue.queue[:40], query, k)
    assert torch.equal(nbrs.indices, ref_idx)
    assert torch.allclose(nbrs.sims, ref_sims, atol=1e-6)
    assert torch.equal(nbrs.feats, queue.queue[ref_idx])
    assert int(nbrs.indices.max()) < 40  # never a zero (unfilled) row


@pytest.mark.parametrize('k', [1, 5])
@pytest.mark.parametrize('block_size', [1, 7, 16, 1000, 'auto'])
def test_blocked_equals_unblocked(block_size, k):
    torch.manual_seed(2)
    full = SupportSetQueue(size=100, feat_dim=16, block_size=None)
    blocked = SupportSetQueue(size=100, feat_dim=16, block_size=block_size)
    rows = torch.randn(90, 16)
    full.enqueue(rows)
    blocked.enqueue(rows)
    query = torch.randn(11, 16)
    a, b = full.nearest(query, k), blocked.nearest(query, k)
    assert torch.equal(a.indices, b.indices)
    assert torch.allclose(a.sims, b.sims, atol=1e-6)


def test_blocked_max_keeps_the_first_of_tied_rows():
    # Rows 3 and 9 are the same vector: a full-matrix max returns row 3,
    # and so must a lookup whose blocks split the two.
    bank = torch.eye(12)
    bank[9] = bank[3]
    query = bank[3:4] + 0.01
    for block in (None, 2, 5):
        vals, idx = topk_inner_product(query, bank, 1, block)
        assert int(idx) == 3, block


def test_auto_block_bounds_the_score_matrix():
    # Paper sizes: 4,096 fp32 queries score 4,096 rows (64 MiB) at a time,
    # not the 1.5 GiB matrix of a 98,304-row support set; a small batch
    # scores ~16 MiB per block.
    assert auto_block_size(torch.zeros(4096, 256)) == 4096
    assert auto_block_size(torch.zeros(4096, 256), k=30) == 8192
    assert auto_block_size(torch.zeros(256, 256)) == 16384
    assert auto_block_size(torch.zeros(32, 256).half()) == 262144
    with pytest.raises(ValueError, match='k must be in'):
        topk_inner_product(torch.zeros(2, 3), torch.zeros(4, 3), 5)


def test_k_is_clipped_to_filled_rows_and_empty_queue_is_reported():
    queue = SupportSetQueue(size=10, feat_dim=3)
    assert queue.is_empty
    with pytest.raises(RuntimeError, match='empty'):
        queue.nearest(torch.randn(2, 3))
    queue.enqueue(torch.randn(2, 3))
    assert queue.nearest(torch.randn(4, 3), k=5).indices.shape == (4, 2)


def test_no_gradient_reaches_the_queue():
    queue = SupportSetQueue(size=8, feat_dim=4)
    z = torch.randn(4, 4, requires_grad=True)
    queue.enqueue(z * 2)
    assert not queue.queue.requires_grad
    nbrs = queue.nearest(z, 2)
    assert not nbrs.feats.requires_grad and not nbrs.sims.requires_grad
    (z.sum() + nbrs.feats.sum()).backward()
    assert torch.equal(z.grad, torch.ones_like(z))


def test_a_step_enqueues_its_stashed_rows_in_order_when_it_ends():
    queue = SupportSetQueue(size=8, feat_dim=2)
    with pytest.raises(RuntimeError, match='SupportSetQueueHook'):
        queue.stash(torch.randn(2, 2))  # no step open: no hook
    a, b, c = torch.randn(2, 2), torch.randn(2, 2), torch.randn(3, 2)
    queue.begin_step(dict(labels=torch.tensor([0, 1])))
    queue.stash(a)
    queue.stash(b)  # a second call of the step (another view)
    assert queue.is_empty and queue.has_pending  # nothing visible yet
    assert queue.end_step() == {}
    assert not queue.has_pending and queue.filled == 4
    queue.begin_step(dict(labels=torch.tensor([2, 3, 4]),
                               sample_idx=torch.tensor([7, 8, 9])))
    queue.stash(c)
    queue.end_step()
    assert queue.filled == 7
    assert torch.allclose(queue.queue[:7],
                          F.normalize(torch.cat([a, b, c]), dim=1))
    assert queue.labels[:7].tolist() == [0, 1, 0, 1, 2, 3, 4]
    assert queue.sample_idx[:7].tolist() == [-1, -1, -1, -1, 7, 8, 9]
    with pytest.raises(RuntimeError, match='begin_step'):
        queue.stash(c)  # the step has ended


def test_lookup_falls_back_and_records_label_agreement():
    queue = SupportSetQueue(size=8, feat_dim=2)
    query = torch.tensor([[1., 0.], [0., 1.]])
    assert queue.lookup(query, 1) is None  # empty
    queue.enqueue(torch.tensor([[1., .1], [.1, 1.]]),
                  labels=torch.tensor([3, 4]))
    assert queue.lookup(query, 0) is None  # k = 0: neighbours off
    queue.begin_step(use_neighbors=False)  # the hook's warm-up
    assert queue.lookup(query, 1) is None
    assert queue.end_step() == {}
    # Two stacked views of a two-sample batch: the labels repeat.
    queue.begin_step(dict(labels=torch.tensor([3, 5])))
    nbrs = queue.lookup(torch.cat([query, query]), 1)
    assert nbrs.indices[:, 0].tolist() == [0, 1, 0, 1]
    stats = queue.end_step()
    assert stats['nn_label_agreement'] == pytest.approx(0.5)
    assert stats['nn_similarity'] == pytest.approx(
        float(F.normalize(torch.tensor([1., .1]), dim=0)[0]))
    queue.begin_step()
    assert queue.end_step() == {}  # each step reports its own


def test_state_dict_round_trip_restores_queue():
    src = SupportSetQueue(size=6, feat_dim=3)
    src.enqueue(torch.randn(4, 3), labels=torch.arange(4),
                sample_idx=torch.arange(4) + 100)
    dst = SupportSetQueue(size=6, feat_dim=3)
    dst.load_state_dict(src.state_dict())
    assert set(src.state_dict()) == {'queue', 'ptr', 'num_filled', 'labels',
                                     'sample_idx'}
    for key, value in src.state_dict().items():
        assert torch.equal(dst.state_dict()[key], value)


@pytest.mark.parametrize('kwargs, match', [
    (dict(size=0, feat_dim=4), 'size'),
    (dict(size=4, feat_dim=-1), 'feat_dim'),
    (dict(size=4, feat_dim=4, block_size=0), 'block_size=0'),
    (dict(size=4, feat_dim=4, block_size=True), 'block_size=True'),
    # An old config's reduced-precision lookup, any value: removed.
    (dict(size=4, feat_dim=4, score_dtype='auto'),
     r"queue.score_dtype='auto': the reduced-precision lookup was removed"),
    (dict(size=4, feat_dim=4, score_dtype='float32'),
     r"queue.score_dtype='float32'.*Delete score_dtype"),
])
def test_bad_arguments_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SupportSetQueue(**kwargs)


def test_dim_mismatch_and_oversized_batch_are_errors():
    queue = SupportSetQueue(size=4, feat_dim=3)
    with pytest.raises(ValueError, match='feat_dim'):
        queue.enqueue(torch.randn(2, 5))
    with pytest.raises(ValueError, match='feat_dim'):
        queue.enqueue(torch.randn(1, 3))
        queue.nearest(torch.randn(2, 4))
    with pytest.raises(ValueError, match='size=4'):
        queue.enqueue(torch.randn(5, 3))


def test_stash_first_only_keeps_the_first_rows_of_a_step():
    queue = SupportSetQueue(size=8, feat_dim=2)
    first, second = torch.randn(2, 2), torch.randn(2, 2)
    queue.begin_step()
    queue.stash(first, first_only=True)
    queue.stash(second, first_only=True)
    queue.end_step()
    assert queue.filled == 2
    assert torch.allclose(queue.queue[:2], F.normalize(first, dim=1))
    queue.begin_step()
    queue.stash(second, first_only=True)  # a new step: accepted again
    queue.end_step()
    assert queue.filled == 4
