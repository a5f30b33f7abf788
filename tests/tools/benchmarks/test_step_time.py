"""tools/benchmarks/step_time.py --checkpoint: a case timed from a training
state starts from that state, and a checkpoint of another memory size is
refused naming the option to train it with."""

import pytest
import step_time
import torch
from helpers import synthetic_fmnist_root


@pytest.fixture
def bench_env(monkeypatch):
    monkeypatch.setenv('NNCLR_DATA_ROOT', synthetic_fmnist_root())
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    import nnclr_plugin  # noqa: F401


def save_state(trainer, path, iteration):
    torch.save(dict(state_dict=trainer.model.state_dict(),
                    optimizer=trainer.optim.state_dict(),
                    meta=dict(iter=iteration)), path)


def test_a_case_starts_from_the_checkpoint(bench_env, tmp_path):
    source = step_time.Trainer('nnclr', 'bench', 2048)
    source.queues[0].enqueue(torch.randn(300, 128))  # a state of its own
    for group in source.optim.param_groups:
        group['lr'] = 0.125
    path = str(tmp_path / 'iter_7.pth')
    save_state(source, path, 7)
    trainer = step_time.Trainer('nnclr', 'bench', 2048, path)
    assert torch.equal(trainer.queues[0].queue, source.queues[0].queue)
    assert int(trainer.queues[0].ptr) == int(source.queues[0].ptr)
    assert trainer.optim.param_groups[0]['lr'] == 0.125
    assert trainer.iteration == 7
    row = step_time.time_case('nnclr:simclr@2048', 'bench', steps=1,
                              repeats=1, warmup=0, checkpoint=path)
    assert row['state'] == 'trained (iter 7)' and row['checkpoint'] == path
    assert row['a_ms'] > 0 and row['b_ms'] > 0
    assert '| trained (iter 7) |' in step_time.render(dict(
        machine='test machine', repeats=1, steps=1, command='cmd',
        rows=[row]))


def test_a_checkpoint_of_another_memory_size_is_refused(bench_env,
                                                        tmp_path):
    path = str(tmp_path / 'iter_1.pth')
    save_state(step_time.Trainer('nnclr', 'bench', 2048), path, 1)
    with pytest.raises(ValueError, match='hold \\[2048\\] rows, the case '
                       'asks for 4096.*model.head.queue.size=4096'):
        step_time.Trainer('nnclr', 'bench', 4096, path)
