"""The support set's rounded rows, kept between lookups (issue 27), and the
per-block candidate selection of the reduced-precision lookup: never
stale, never a different answer."""
import pytest
import torch
import torch.nn.functional as F

from nnclr_plugin.models import SupportSetQueue
from nnclr_plugin.models.utils import fast_precision as fp
from nnclr_plugin.models.utils import topk_inner_product
from nnclr_plugin.models.utils.block_candidates import block_top
from nnclr_plugin.models.utils.rounded_bank import RoundedBank, round_rows


def assert_current(queue: SupportSetQueue) -> None:
    """The kept rows are exactly what rounding the queue now gives."""
    kept = queue.rounded.get(queue.queue, torch.bfloat16)
    fresh = round_rows(queue.queue, torch.bfloat16)
    for a, b in zip(kept, fresh):
        assert torch.equal(a, b)


def test_rows_follow_every_write_and_only_rebuild_when_needed(monkeypatch):
    torch.manual_seed(0)
    queue = SupportSetQueue(size=300, feat_dim=16, block_size=64,
                            score_dtype='bfloat16')
    queue.enqueue(torch.randn(200, 16))
    query = torch.randn(9, 16)
    queue.nearest(query)  # first lookup: rounds the whole queue
    rounded = []
    real = round_rows

    def counted(rows, dtype, out=None):
        rounded.append(len(rows))
        return real(rows, dtype, out)

    monkeypatch.setattr('nnclr_plugin.models.utils.rounded_bank.round_rows',
                        counted)
    # Enqueues (wrapping around the end) re-round only the written rows.
    for n in (70, 70, 70):
        queue.enqueue(torch.randn(n, 16))
        exact = topk_inner_product(
            F.normalize(query), queue.queue[:queue.filled], 1)
        nbrs = queue.nearest(query)
        assert torch.equal(nbrs.indices, exact[1])
        assert_current(queue)
    assert rounded[:3] == [70, 70, 70]
    # Writes the queue does not make itself: a checkpoint load, an edit
    # in place. The next lookup rounds the whole queue again.
    other = SupportSetQueue(size=300, feat_dim=16)
    other.enqueue(torch.randn(300, 16))
    queue.load_state_dict(other.state_dict())
    assert_current(queue)
    queue.queue[5] = F.normalize(torch.randn(16), dim=0)
    assert_current(queue)
    rounded.clear()
    queue.nearest(query)
    assert rounded == []  # nothing changed since: nothing rounded


def test_a_stale_copy_is_not_updated_row_by_row():
    """A write after an outside change must not mark stale rows current."""
    bank = torch.randn(50, 8)
    rounded = RoundedBank()
    rounded.get(bank, torch.bfloat16)
    bank[10] = 7.0  # outside change
    was_current = rounded.is_current(bank)
    bank[20] = 3.0
    rounded.write(bank, torch.tensor([20]), was_current)
    assert not was_current
    ext = rounded.get(bank, torch.bfloat16)[0]
    assert torch.equal(ext[10, :8], bank[10].bfloat16())


def test_an_inference_mode_queue_is_rounded_at_every_lookup():
    """Inference tensors have no version counter: nothing is kept, and
    the lookup is still the float32 one."""
    with torch.inference_mode():
        queue = SupportSetQueue(size=200, feat_dim=8, block_size=64,
                                score_dtype='bfloat16')
        queue.enqueue(torch.randn(150, 8))
        query = torch.randn(5, 8)
        nbrs = queue.nearest(query)
        queue.enqueue(torch.randn(100, 8))
        nbrs = queue.nearest(query)
        exact = topk_inner_product(F.normalize(query),
                                   queue.queue[:queue.filled], 1)
    assert torch.equal(nbrs.indices, exact[1])
    assert not queue.rounded.is_current(queue.queue)


@pytest.mark.parametrize('ties', [False, True])
def test_block_candidates_are_the_top_and_bound_the_rest(ties):
    """The grouped selection returns the top n values and a bound no
    dropped column exceeds (wide blocks take the grouped path)."""
    gen = torch.Generator().manual_seed(1)
    scores = torch.randn(40, 8192, generator=gen)
    if ties:  # few distinct values: many exact ties
        scores = (scores * 4).round() / 4
    scores = scores.bfloat16()
    n = 16
    work = torch.empty(scores.numel() // 2, dtype=scores.dtype)
    vals, cols = block_top(scores, n, work)
    assert vals.shape == (40, n + 1)
    ref = scores.float().topk(n, dim=1).values
    assert torch.equal(vals[:, :n].float(), ref)
    assert torch.equal(scores.gather(1, cols[:, :n]), vals[:, :n])
    assert len(set(cols[0, :n].tolist())) == n
    dropped = scores.float().scatter(1, cols[:, :n], float('-inf'))
    assert (dropped.amax(1) <= vals[:, n].float()).all()


@pytest.mark.parametrize('k', [1, 30])
def test_wide_blocks_give_the_float32_answer(k):
    """End to end through the grouped selection (blocks of 6,000 rows)."""
    gen = torch.Generator().manual_seed(2)
    bank = F.normalize(torch.randn(12000, 32, generator=gen), dim=1)
    query = F.normalize(torch.randn(50, 32, generator=gen), dim=1)
    ref_v, ref_i = topk_inner_product(query, bank, k, 6000)
    vals, idx, _ = fp.topk_reduced_precision(query, bank, k, 6000,
                                             torch.bfloat16)
    assert torch.allclose(vals, ref_v, atol=1e-6, rtol=0)
    assert torch.equal(idx.sort(1).values, ref_i.sort(1).values)
