"""Support-set lookup scored in bfloat16 / float16 (issue 27): the float32
path's neighbours and similarities for every query, by construction."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from nnclr_plugin.models import SupportSetQueue
from nnclr_plugin.models.utils import fast_precision as fp
from nnclr_plugin.models.utils import score_dtype as sd
from nnclr_plugin.models.utils import topk_inner_product


def assert_same_as_float32(query, bank, k, block, dtype, rerank=None):
    """The reduced-precision lookup returns the float32 lookup's answer;
    returns how many queries it had to look up again in float32."""
    ref_v, ref_i = topk_inner_product(query, bank, k, block)
    vals, idx, redo = fp.topk_reduced_precision(query, bank, k, block,
                                                dtype, rerank)
    assert vals.dtype == torch.float32 and idx.shape == ref_i.shape
    assert torch.allclose(vals, ref_v, atol=1e-6, rtol=0)
    # The same rows in the same order (both rank equal scores by row).
    assert torch.equal(idx, ref_i)
    return redo


# torch 2.1 (the oldest tested stack) has no float16 matrix product on CPU.
FP16 = pytest.param(torch.float16, marks=pytest.mark.skipif(
    not sd.cpu_can_multiply(torch.float16),
    reason='this torch has no float16 matmul on CPU (test_float16_on_a_cpu_'
    'without_it_is_a_clear_error covers it)'))


@pytest.mark.parametrize('dtype', [torch.bfloat16, FP16])
@pytest.mark.parametrize('k', [1, 30])
@pytest.mark.parametrize('block', [None, 7, 512])
def test_random_unit_vectors(dtype, k, block):
    """Both 16-bit types, k = 1 and SNCLR's 30, unblocked, blocks smaller
    than r, and blocks of several per-block candidate sets."""
    gen = torch.Generator().manual_seed(k)
    bank = F.normalize(torch.randn(3000, 32, generator=gen), dim=1)
    query = F.normalize(torch.randn(40, 32, generator=gen), dim=1)
    assert_same_as_float32(query, bank, k, block, dtype)


def near_tie_bank(spread: float, num_ties: int = 300,
                  num_random: int = 2000, dim: int = 32, seed: int = 0):
    """A query and a bank in which ``num_ties`` rows score within
    ``spread`` of each other just below 1 (where bfloat16's resolution is
    2**-8 = 3.9e-3), evenly spaced (1e-6 apart or more, far above float32
    rounding), shuffled among random rows; the best row is stored twice (a
    tie the float32 path breaks to the lower index)."""
    gen = torch.Generator().manual_seed(seed)
    query = F.normalize(torch.randn(1, dim, generator=gen), dim=1)
    ortho = torch.randn(num_ties, dim, generator=gen)
    ortho = F.normalize(ortho - (ortho @ query.T) * query, dim=1)
    # score = cos(angle): angles spread so that the scores lie in
    # [1 - spread, 1 - 1e-5].
    target = 1 - torch.linspace(1e-5, spread, num_ties)[
        torch.randperm(num_ties, generator=gen)]
    angle = torch.arccos(target.double()).float()
    ties = query * angle.cos()[:, None] + ortho * angle.sin()[:, None]
    rows = torch.cat([ties, F.normalize(torch.randn(num_random, dim,
                                                    generator=gen), dim=1)])
    rows = rows[torch.randperm(len(rows), generator=gen)]
    best = int((rows @ query.T).argmax())
    rows = torch.cat([rows[:best + 1], rows[best:]])  # best row twice
    # Several slightly rotated queries share the near-ties.
    queries = F.normalize(query + 2e-3 * torch.randn(
        16, dim, generator=gen), dim=1)
    return F.normalize(rows, dim=1), torch.cat([query, queries])


@pytest.mark.parametrize('k', [1, 30])
@pytest.mark.parametrize('rerank', [None, 'k'])
@pytest.mark.parametrize('spread', [3e-3, 3e-4])
def test_adversarial_near_ties(k, rerank, spread):
    """Near-ties below bfloat16's resolution: a plain bf16 ranking gets
    them wrong; the lookup returns the float32 answer, certified where the
    centred bound separates the rows (spread 3e-3), else (spread 3e-4, or
    r = k) by looking the query up again in float32."""
    bank, query = near_tie_bank(spread)
    rerank = k if rerank == 'k' else None
    scores = query @ bank.T
    # bfloat16 alone cannot rank these rows: its top 1 is wrong for some.
    reduced = (query.bfloat16() @ bank.bfloat16().T).float()
    assert (reduced.argmax(dim=1) != scores.argmax(dim=1)).any()
    for block in (None, 64):
        redo = assert_same_as_float32(query, bank, k, block, torch.bfloat16,
                                      rerank)
        if spread < 1e-3 or rerank:
            assert redo > 0  # rows closer than the bound: float32 decides


@pytest.mark.parametrize('k', [1, 5, 30])
def test_equal_scores_rank_by_row_in_every_lookup(k):
    """Exact float ties, inside the top k and at its cut: every block size
    and the bfloat16 lookup rank them by row, lower first, as a sort by
    (-score, row) does. Without that rule the two score dtypes' SNCLR runs
    parted at iteration 105 of the bench run. Small integer coordinates
    (in eighths) make every score exact in any GEMM, so the ties are ties
    for every block size."""
    gen = torch.Generator().manual_seed(5)
    bank = torch.randint(-3, 4, (600, 16), generator=gen) / 8
    query = torch.randint(-3, 4, (9, 16), generator=gen) / 8
    # Each query's best row once more: a tie at the top (k = 1) too.
    bank[580:589] = bank[(query @ bank.T).argmax(dim=1)]
    scores = query @ bank.T
    ref_i = torch.stack([  # sort by (-score, row), the definition
        torch.tensor(sorted(range(600), key=lambda c, s=s: (-s[c], c))[:k])
        for s in scores.tolist()])
    top = scores.gather(1, ref_i)
    # Ties inside the top k (k > 1) and at its cut.
    assert k == 1 or (top[:, :-1] == top[:, 1:]).any()
    assert ((scores == top[:, -1:]).sum(1) > 1).any()
    for block in (None, 7, 64, 256):
        vals, idx = topk_inner_product(query, bank, k, block)
        assert torch.equal(idx, ref_i), block
        assert torch.equal(vals, top)
    assert_same_as_float32(query, bank, k, 64, torch.bfloat16)


def test_duplicate_rows_keep_the_float32_tie_rule():
    bank = F.normalize(torch.randn(500, 16), dim=1)
    bank[400] = bank[37]  # two equal rows: the lower index wins
    query = bank[37:38] + 1e-3
    dtypes = [torch.bfloat16] + (
        [torch.float16] if sd.cpu_can_multiply(torch.float16) else [])
    for dtype in dtypes:
        vals, idx, _ = fp.topk_reduced_precision(query, bank, 1, 64, dtype)
        assert int(idx) == 37
        vals, idx, _ = fp.topk_reduced_precision(query, bank, 2, 64, dtype)
        assert idx.tolist() == [[37, 400]]


def test_real_projections_of_a_trained_demo(tmp_path):
    """A support set the NNCLR demo filled while training (a few dozen
    iterations' worth, shrunk): the same neighbours as float32 for every
    query, and how often the bf16 top-r alone would have missed them."""
    from helpers import NNCLR_DEMO, requires_fmnist, small_train_cfg, unwrap
    from mmengine.runner import Runner
    if requires_fmnist.args[0]:
        pytest.skip(requires_fmnist.kwargs['reason'])
    cfg = small_train_cfg(NNCLR_DEMO, str(tmp_path), max_iters=8,
                          batch_size=32, num_images=512, queue_size=256)
    cfg.custom_hooks = [dict(type='SupportSetQueueHook', warmup_iters=0)]
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = unwrap(runner.model).eval()
    queue = model.head.queue
    assert queue.filled == 256
    batch = next(iter(runner.train_dataloader))
    with torch.no_grad():
        inputs = model.data_preprocessor(batch, False)['inputs']
        query = model.neck(model.backbone(inputs[1]))[0]
    query = F.normalize(query, dim=1)
    bank = queue.queue[:queue.filled]
    for k in (1, 30):
        redo = assert_same_as_float32(query, bank, k, None, torch.bfloat16)
        # Without the certificate: queries whose float32 top k is not in
        # the bf16 top r (printed with -s; the float32 re-lookup covers
        # them, the assertion above holds either way).
        r = fp.rerank_size(k)
        reduced = (query.bfloat16() @ bank.bfloat16().T).topk(r).indices
        true = (query @ bank.T).topk(k).indices
        missed = ~(true[:, :, None] == reduced[:, None]).any(2).all(1)
        print(f'k={k}: float32 re-lookups {redo}/{len(query)}, bf16 top-{r} '
              f'missed the float32 top-{k} for {int(missed.sum())}')
        assert redo >= int(missed.sum())


def test_queue_option_keeps_results_and_checkpoints():
    torch.manual_seed(3)
    rows = torch.randn(900, 24)
    fast = SupportSetQueue(size=1000, feat_dim=24, block_size=128,
                           score_dtype='bfloat16')
    exact = SupportSetQueue(size=1000, feat_dim=24, block_size=128,
                            score_dtype='float32')
    fast.enqueue(rows)
    exact.enqueue(rows)
    query = torch.randn(33, 24)
    a, b = fast.nearest(query, 30), exact.nearest(query, 30)
    assert torch.equal(a.indices.sort(1).values, b.indices.sort(1).values)
    assert torch.allclose(a.sims, b.sims, atol=1e-6)
    assert torch.equal(a.feats[:, 0], b.feats[:, 0])
    assert fast.relookup_share is not None and exact.relookup_share is None
    # Not a buffer: checkpoints are the same, and load either way.
    assert set(fast.state_dict()) == set(exact.state_dict())
    for key, value in exact.state_dict().items():
        assert torch.equal(fast.state_dict()[key], value)
    exact.load_state_dict(fast.state_dict())
    fast.load_state_dict(exact.state_dict())
    assert 'score_dtype=bfloat16' in repr(fast)
    # lookup() logs the share of queries looked up again in float32.
    for queue in (fast, exact):
        queue.step.begin_step()
        queue.step.lookup(query, 1)
    assert 'float32_relookup' in fast.step.end_step()
    assert 'float32_relookup' not in exact.step.end_step()


@pytest.mark.parametrize('value', ['bf16', 'fp32', None, torch.bfloat16])
def test_bad_score_dtype_names_the_key(value):
    with pytest.raises(ValueError,
                       match='model.head.queue.score_dtype='):
        SupportSetQueue(size=4, feat_dim=4, score_dtype=value)


def test_auto_picks_the_fast_type_only_with_the_hardware(monkeypatch):
    sd.cpu_has_fast_bf16.cache_clear()
    monkeypatch.setattr(sd, 'cpu_has_fast_bf16', lambda: True)
    assert sd.resolve_score_dtype('auto', 'cpu') == torch.bfloat16
    monkeypatch.setattr(sd, 'cpu_has_fast_bf16', lambda: False)
    assert sd.resolve_score_dtype('auto', 'cpu') == torch.float32
    assert sd.resolve_score_dtype('float16', 'cuda') == torch.float16
    assert sd.resolve_score_dtype('float32', 'cpu') == torch.float32
    monkeypatch.setattr(sd, 'AUTO_MIN_ROWS', 2048)  # a small test bank
    queue = SupportSetQueue(size=2048, feat_dim=8)
    assert queue.score_dtype == 'auto'  # the default
    queue.enqueue(torch.randn(2048, 8))
    queue.nearest(torch.randn(2048, 8))
    assert queue.relookup_share is None  # float32 path without the units
    monkeypatch.setattr(sd, 'cpu_has_fast_bf16', lambda: True)
    queue.nearest(torch.randn(2048, 8))
    assert queue.relookup_share is not None  # scored in bfloat16
    # Small lookups stay in float32 (not worth the set-up): few queries,
    # or a bank of fewer rows.
    queue.nearest(torch.randn(4, 8))
    assert queue.relookup_share is None
    monkeypatch.setattr(sd, 'AUTO_MIN_ROWS', 2049)
    queue.nearest(torch.randn(2048, 8))
    assert queue.relookup_share is None


def test_cpu_probe_agrees_with_the_cpu_flags():
    sd.cpu_has_fast_bf16.cache_clear()
    if not osp.isfile('/proc/cpuinfo') or \
            not torch.backends.mkldnn.is_available():
        pytest.skip('no /proc/cpuinfo or no oneDNN')
    with open('/proc/cpuinfo') as f:
        flags = f.read()
    expected = 'amx_bf16' in flags or 'avx512_bf16' in flags
    assert sd.cpu_has_fast_bf16() == expected


def test_a_backend_rounding_more_than_modelled_falls_back(monkeypatch):
    """If reduced-precision GEMMs were less accurate than float32
    accumulation (the bound's premise), the lookup notices on its
    candidates and answers in float32."""
    real_mm = torch.mm

    def noisy_mm(a, b, out=None):
        res = real_mm(a, b, out=out)
        if a.dtype == torch.bfloat16:
            res.add_(0.02)
        return res

    monkeypatch.setattr(torch, 'mm', noisy_mm)
    bank = F.normalize(torch.randn(800, 16), dim=1)
    query = F.normalize(torch.randn(10, 16), dim=1)
    with pytest.warns(UserWarning, match='less accurate'):
        redo = assert_same_as_float32(query, bank, 1, 100, torch.bfloat16)
    assert redo == len(query)


def test_autocast_does_not_reach_the_float32_decision():
    """An AMP step (autocast to bfloat16 around the head) must not run the
    float32 re-score and re-lookup in 16 bits."""
    gen = torch.Generator().manual_seed(5)
    bank = F.normalize(torch.randn(2000, 32, generator=gen), dim=1)
    query = F.normalize(torch.randn(64, 32, generator=gen), dim=1)
    ref_v, ref_i = topk_inner_product(query, bank, 1, 256)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        vals, idx, _ = sd.lookup_topk(query, bank, 1, 256, 'bfloat16')
    assert vals.dtype == torch.float32
    assert torch.equal(idx, ref_i) and torch.equal(vals, ref_v)


def test_auto_pauses_where_float32_redoes_most_queries(monkeypatch):
    """A queue holding many near-copies of the queries (a near-collapsed
    network, the same images again and again): 'auto' stays exact, and
    after one lookup that float32 mostly redid, it skips the 16-bit pass
    for the next AutoPause.PAUSE lookups."""
    monkeypatch.setattr(sd, 'cpu_has_fast_bf16', lambda: True)
    monkeypatch.setattr(sd, 'AUTO_MIN_ROWS', 4096)  # a small test bank
    gen = torch.Generator().manual_seed(7)
    centre = F.normalize(torch.randn(1, 32, generator=gen), dim=1)
    queue = SupportSetQueue(size=4096, feat_dim=32, block_size=512)
    queue.enqueue(centre + 1e-2 * torch.randn(4096, 32, generator=gen))
    query = F.normalize(centre + 1e-2 * torch.randn(1024, 32, generator=gen),
                        dim=1)
    ref_v, ref_i = topk_inner_product(F.normalize(query, dim=1),
                                      queue.queue, 30, 512)
    ref_i = ref_i.sort(dim=1).values
    nbrs = queue.nearest(query, 30)
    assert torch.equal(nbrs.indices.sort(dim=1).values, ref_i)
    assert torch.allclose(nbrs.sims, ref_v, atol=1e-6, rtol=0)
    assert queue.relookup_share > sd.AutoPause.MAX_RELOOKUP
    for _ in range(sd.AutoPause.PAUSE):
        nbrs = queue.nearest(query, 30)
        assert torch.equal(nbrs.indices.sort(dim=1).values, ref_i)
        assert queue.relookup_share is None  # float32 directly
    queue.nearest(query, 30)
    assert queue.relookup_share is not None  # tries 16 bits again


def test_float16_on_a_cpu_without_it_is_a_clear_error():
    queue = SupportSetQueue(size=4096, feat_dim=8, score_dtype='float16')
    queue.enqueue(torch.randn(4096, 8))
    if sd.cpu_can_multiply(torch.float16):
        assert queue.nearest(torch.randn(4, 8)).indices.shape == (4, 1)
    else:  # torch 2.1: the key and the way out, not addmm's message
        with pytest.raises(ValueError,
                           match="score_dtype='float16'.*'bfloat16'"):
            queue.nearest(torch.randn(4, 8))


@pytest.mark.parametrize('k, block', [(1, None), (1, 4096), (30, 8192)])
def test_certified_similarities_are_the_float32_bits(k, block):
    """Resume is bit-exact only if both paths return the same bits:
    AutoPause's counter is not checkpointed, so a resumed run may take the
    reduced path where the uninterrupted one took float32."""
    gen = torch.Generator().manual_seed(11)
    bank = F.normalize(torch.randn(20000, 128, generator=gen), dim=1)
    query = F.normalize(
        bank[:512] + 0.05 * torch.randn(512, 128, generator=gen), dim=1)
    ref_v, ref_i = topk_inner_product(query, bank, k, block)
    vals, idx, redo = fp.topk_reduced_precision(query, bank, k, block,
                                                torch.bfloat16)
    assert redo == 0  # the certificate held: this is the reduced path
    assert torch.equal(vals, ref_v)
    # Rows whose score ties exactly with a neighbour in the list may come
    # in another order (float32 topk leaves it open); all others match.
    tied = torch.zeros_like(vals, dtype=torch.bool)
    tied[:, 1:] |= vals[:, 1:] == vals[:, :-1]
    tied[:, :-1] |= vals[:, :-1] == vals[:, 1:]
    assert torch.equal(idx[~tied], ref_i[~tied])
    assert torch.equal(idx.sort(dim=1).values, ref_i.sort(dim=1).values)


@pytest.mark.parametrize('config', ['nnclr', 'snclr'])
def test_training_with_bf16_scores_equals_float32_training(config, tmp_path):
    """Whole runs through the Runner: scoring the support set in bfloat16
    changes no neighbour, so every loss and every weight is the float32
    run's, bit for bit (SNCLR: k = 30, a memory larger than its r = 61)."""
    from helpers import (
        NNCLR_DEMO,
        SNCLR_DEMO,
        loss_history,
        small_train_cfg,
        state_of,
        unwrap,
    )
    from mmengine.runner import Runner
    runs = {}
    for dtype in ('float32', 'bfloat16'):
        cfg = small_train_cfg(
            dict(nnclr=NNCLR_DEMO, snclr=SNCLR_DEMO)[config],
            osp.join(str(tmp_path), dtype), max_iters=6, batch_size=32,
            num_images=192, queue_size=160)
        cfg.model.head.queue.score_dtype = dtype
        cfg.custom_hooks = [dict(type='SupportSetQueueHook',
                                 warmup_iters=0)]
        runner = Runner.from_cfg(cfg)
        runner.train()
        relookups = runner.message_hub.log_scalars.get(
            'train/support_set/float32_relookup')
        runs[dtype] = (loss_history(runner), state_of(runner), relookups)
        assert unwrap(runner.model).head.queue.filled == 160
    (loss32, state32, none), (loss16, state16, relookups) = runs.values()
    assert none is None  # the float32 run never took the reduced path
    # ... and the bfloat16 run did, from the step whose bank is larger
    # than its r candidates.
    assert relookups is not None and len(relookups.data[0]) >= 3
    assert torch.equal(loss32, loss16)
    assert state32.keys() == state16.keys()
    for key, value in state32.items():
        assert torch.equal(value, state16[key]), key


def test_neighbours_crowded_into_one_block_need_no_float32():
    """In a FIFO queue a query's nearest rows are mostly the newest, all in
    one block (SNCLR's momentum keys: 24 of the top 30 in one of 8 blocks
    at a training step). That block gives r candidates instead of its
    share, so each query is certified without the float32 re-lookup."""
    gen = torch.Generator().manual_seed(11)
    dim, num_q, block = 32, 12, 512
    query = F.normalize(torch.randn(num_q, dim, generator=gen), dim=1)
    bank = F.normalize(torch.randn(8 * block, dim, generator=gen), dim=1)
    # 40 rows per query in the last block, scores spread over 0.92-0.995.
    spread = torch.linspace(0.1, 0.4, 40)[:, None, None]
    near = query + spread * F.normalize(
        torch.randn(40, num_q, dim, generator=gen), dim=2)
    bank[-block:][:40 * num_q] = F.normalize(near.reshape(-1, dim), dim=1)
    for k in (1, 30):
        redo = assert_same_as_float32(query, bank, k, block, torch.bfloat16)
        assert redo == 0, k


@pytest.mark.parametrize('k', [1, 30])
def test_a_query_gets_the_same_bits_in_any_batch(k):
    """The bfloat16 lookup sends the queries it cannot certify back to
    float32, a few at a time; their scores must be the bits the whole
    batch's float32 lookup gives them, or the two score dtypes' runs part
    (SNCLR's did, at iteration 607 of the bench run)."""
    gen = torch.Generator().manual_seed(2)
    bank = F.normalize(torch.randn(40000, 128, generator=gen), dim=1)
    query = F.normalize(torch.randn(64, 128, generator=gen), dim=1)
    for block in (None, 16384):
        vals, idx = topk_inner_product(query, bank, k, block)
        for n in (1, 2, 3, 5, 6, 7, 9, 11, 16):
            rows = torch.randperm(64, generator=gen)[:n]
            sub_v, sub_i = topk_inner_product(query[rows], bank, k, block)
            assert torch.equal(sub_v, vals[rows]), (block, n)
            assert torch.equal(sub_i, idx[rows])


@pytest.mark.parametrize('k', [1, 30])
def test_the_float32_lookup_gives_the_same_bits_for_any_block_size(k):
    """A GEMM over fewer than 12 bank rows rounds otherwise (MKL): a block
    narrower than 16 rows, set or left over at the end of the bank (which
    grows by a batch at a time while the queue fills), joins the one
    before it, so the scores, and the bfloat16 lookup's re-scores, are the
    same bits for every block size."""
    gen = torch.Generator().manual_seed(4)
    bank = F.normalize(torch.randn(5000, 128, generator=gen), dim=1)
    query = F.normalize(torch.randn(64, 128, generator=gen), dim=1)
    vals, idx = topk_inner_product(query, bank, k, None)
    for block in (7, 64, 1000, 4990, 4997):
        b_vals, b_idx = topk_inner_product(query, bank, k, block)
        assert torch.equal(b_vals, vals), block
        assert torch.equal(b_idx, idx), block
    r_vals, r_idx, _ = fp.topk_reduced_precision(query, bank, k, 4997,
                                                 torch.bfloat16)
    assert torch.equal(r_vals, vals) and torch.equal(r_idx, idx)
