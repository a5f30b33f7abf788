"""NNCLR and SimCLR through a real mmengine Runner on Fashion-MNIST-format
data (generated: ``helpers.synthetic_fmnist_root``)."""
import pytest
import torch
from helpers import (
    NNCLR_DEMO,
    SIMCLR_DEMO,
    SNCLR_DEMO,
    loss_history,
    small_train_cfg,
    state_of,
    unwrap,
)
from mmengine.runner import Runner


def scalar_history(runner, key):
    values, _ = runner.message_hub.get_scalar(key).data
    return list(values)


def test_demo_config_trains_and_logs_support_set_diagnostics(tmp_path):
    cfg = small_train_cfg(NNCLR_DEMO, str(tmp_path), max_iters=6,
                          batch_size=16, queue_size=64)
    cfg.custom_hooks = [dict(type='SupportSetQueueHook', warmup_iters=2)]
    runner = Runner.from_cfg(cfg)
    runner.train()
    queue = unwrap(runner.model).head.queue
    fill = scalar_history(runner, 'train/support_set/fill')
    # 16 rows per step into 64 slots.
    assert fill == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    # Lookups start after the 2 warm-up iterations.
    sims = scalar_history(runner, 'train/support_set/nn_similarity')
    assert len(sims) == 4 and all(-1 <= s <= 1 for s in sims)
    agree = scalar_history(runner, 'train/support_set/nn_label_agreement')
    assert len(agree) == 4 and all(0 <= a <= 1 for a in agree)
    assert queue.filled == 64
    assert set(queue.labels.tolist()) <= set(range(10))
    assert torch.isfinite(loss_history(runner)).all()


def test_queue_smaller_than_global_batch_is_rejected(tmp_path):
    cfg = small_train_cfg(NNCLR_DEMO, str(tmp_path), batch_size=16,
                          queue_size=8)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError,
                       match=r'model.head.queue.size=8 is smaller than the '
                       r'global batch \(16'):
        runner.train()


def test_missing_hook_is_a_clear_error(tmp_path):
    cfg = small_train_cfg(NNCLR_DEMO, str(tmp_path))
    cfg.custom_hooks = []
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError, match='SupportSetQueueHook'):
        runner.train()


def test_hook_without_queue_is_a_clear_error(tmp_path):
    cfg = small_train_cfg(SIMCLR_DEMO, str(tmp_path))
    cfg.custom_hooks = [dict(type='SupportSetQueueHook')]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='contains no SupportSetQueue'):
        runner.train()


@pytest.mark.parametrize('config', [SIMCLR_DEMO, NNCLR_DEMO, SNCLR_DEMO],
                         ids=['simclr', 'nnclr', 'snclr'])
def test_resume_equals_uninterrupted_run(tmp_path, config):
    """Train 6 iterations saving at 3; resume a fresh Runner from iter_3 and
    train to 6: parameters, buffers (queue included) and losses must be
    bit-identical. Checkpoints load with torch's weights_only default."""
    def cfg_for(work_dir, **kw):
        cfg = small_train_cfg(config, work_dir, max_iters=6, batch_size=16,
                              queue_size=64, checkpoint_interval=3, **kw)
        if cfg.get('custom_hooks'):
            cfg.custom_hooks = [dict(type='SupportSetQueueHook',
                                     warmup_iters=2)]
        return cfg

    full = Runner.from_cfg(cfg_for(str(tmp_path / 'full')))
    full.train()
    ckpt = tmp_path / 'full' / 'iter_3.pth'
    assert ckpt.exists()

    resumed_cfg = cfg_for(str(tmp_path / 'resumed'))
    resumed_cfg.resume = True
    resumed_cfg.load_from = str(ckpt)
    resumed = Runner.from_cfg(resumed_cfg)
    resumed.train()

    assert resumed.iter == full.iter == 6
    a, b = state_of(full), state_of(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert torch.equal(loss_history(full), loss_history(resumed))
    if 'head.queue.num_filled' in b:
        assert int(b['head.queue.num_filled']) == 64


def test_resume_with_a_resized_support_set_is_a_clear_error(tmp_path):
    """mmengine alone skips the mis-shaped queue but loads ptr/num_filled,
    so the bigger queue would count zero rows as filled; it must stop."""
    first = small_train_cfg(NNCLR_DEMO, str(tmp_path / 'a'), max_iters=4,
                            batch_size=16, queue_size=64,
                            checkpoint_interval=4)
    Runner.from_cfg(first).train()
    cfg = small_train_cfg(NNCLR_DEMO, str(tmp_path / 'b'), max_iters=6,
                          batch_size=16, queue_size=128)
    cfg.resume = True
    cfg.load_from = str(tmp_path / 'a' / 'iter_4.pth')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError) as err:
        runner.train()
    message = str(err.value)
    assert 'head.queue.queue has shape (64, 128)' in message
    assert 'model.head.queue.size=128' in message
    assert 'model.head.queue.feat_dim=128' in message


def test_stock_mocov3_trains_with_soft_neighbor_head(tmp_path):
    """`type='MoCoV3'` (mmpretrain's class) + SoftNeighborHead: trains, the
    soft neighbours are used after warm-up, and the momentum branch is
    updated only by EMA, never by gradients."""
    from mmpretrain.models import MoCoV3
    cfg = small_train_cfg(SNCLR_DEMO, str(tmp_path), max_iters=5,
                          batch_size=16, queue_size=64)
    cfg.model.type = 'MoCoV3'
    cfg.custom_hooks = [dict(type='SupportSetQueueHook', warmup_iters=2)]
    runner = Runner.from_cfg(cfg)
    model = unwrap(runner.model)
    assert type(model) is MoCoV3
    momentum_before = {k: v.clone() for k, v in
                       model.momentum_encoder.state_dict().items()}
    runner.train()
    for p in model.momentum_encoder.parameters():
        assert p.grad is None and not p.requires_grad
    changed = [k for k, v in model.momentum_encoder.state_dict().items()
               if not torch.equal(v, momentum_before[k])]
    assert changed  # moved by the EMA update
    assert model.head.queue.filled == 64
    weights = scalar_history(runner, 'train/support_set/positiveness_max')
    assert len(weights) == 3 and all(1 / 30 <= w <= 1 for w in weights)
    # Entropy relative to uniform: 1 when flat, 0 when one-hot.
    entropy = scalar_history(runner,
                             'train/support_set/positiveness_entropy')
    assert len(entropy) == 3 and all(0 <= e <= 1 + 1e-6 for e in entropy)
    # Stock MoCoV3 hands its head no labels: the hook gives them to the
    # memory, so the agreement is logged after warm-up all the same.
    agreement = scalar_history(runner, 'train/support_set/nn_label_agreement')
    assert len(agreement) == 3 and all(0 <= a <= 1 for a in agreement)
    # Every stored row knows the dataset image it came from.
    queue = model.head.queue
    assert int(queue.sample_idx.min()) >= 0
    dataset_labels = torch.as_tensor(
        runner.train_dataloader.dataset.get_gt_labels())
    assert torch.equal(queue.labels, dataset_labels[queue.sample_idx])


def test_uneven_batches_are_refused_with_the_sampler_setting():
    from nnclr_plugin.engine.hooks.support_set_queue_hook import (
        uneven_batch_problem,
    )
    # 101 samples on 2 processes without round-up: 51 vs 50 rows.
    problem = uneven_batch_problem(101, 2, 16, round_up=False,
                                   drop_last=False)
    assert 'train_dataloader.sampler.round_up=True' in problem
    # Round-up (mmengine's default) pads to 51 + 51: fine.
    assert uneven_batch_problem(101, 2, 12, True, False) is None
    # 51 per process in batches of 25: a one-row last batch.
    problem = uneven_batch_problem(101, 2, 25, True, False)
    assert 'holds 1 sample' in problem and 'drop_last=True' in problem
    assert uneven_batch_problem(101, 2, 25, True, True) is None
    # Even drop_last cannot fix it in general (32 vs 31 rows in batches of
    # 16 are 2 vs 1 batches).
    assert 'round_up=True' in uneven_batch_problem(63, 2, 16, False, True)


@pytest.mark.parametrize('num_images, batch_size, match', [
    (33, 16, 'last batch of every epoch holds 1'),
    # Before: PyTorch's BatchNorm error from inside the first forward pass.
    (8, 1, 'train_dataloader.batch_size=1'),
], ids=['one-row-last-batch', 'batch-size-one'])
def test_one_row_batches_fail_at_start(tmp_path, num_images, batch_size,
                                       match):
    cfg = small_train_cfg(NNCLR_DEMO, str(tmp_path), num_images=num_images,
                          batch_size=batch_size)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=match):
        runner.train()
