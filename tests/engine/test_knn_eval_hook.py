"""KNNEvalHook: online kNN (and final probe) through a real Runner."""
import json
import os.path as osp

import pytest
from helpers import REPO, small_train_cfg, synthetic_fmnist_root
from mmengine.runner import Runner

from nnclr_plugin.engine.hooks import KNNEvalHook
from nnclr_plugin.evaluation import extract_backbone_features, knn_accuracy

BENCH_SIMCLR = osp.join(
    REPO, 'configs', 'bench',
    'simclr_resnet18-c16_1xb256-coslr-1000it_fashion-mnist.py')


def bench_cfg(work_dir, max_iters=4, **kwargs):
    cfg = small_train_cfg(BENCH_SIMCLR, work_dir, max_iters=max_iters,
                          batch_size=32, num_images=256, **kwargs)
    hook = cfg.custom_hooks[0]
    assert hook.type == 'KNNEvalHook'
    hook.update(interval=2, num_train=64, num_val=32)
    for key, n in (('train_dataloader', 300), ('val_dataloader', 100)):
        hook[key].dataset.data_root = synthetic_fmnist_root()
        hook[key].dataset.indices = n
        hook[key].batch_size = 128
    return cfg


def test_hook_logs_a_curve_and_a_final_full_set_evaluation(tmp_path):
    runner = Runner.from_cfg(bench_cfg(str(tmp_path)))
    runner.train()
    with open(osp.join(str(tmp_path), 'knn_history.json')) as f:
        history = json.load(f)
    # The curve on the subsets (its last point after the last iteration),
    # then the final evaluation on the whole sets.
    assert [(h['iter'], h['final']) for h in history] == [(2, False),
                                                          (4, False),
                                                          (4, True)]
    assert (history[1]['num_train'], history[1]['num_val']) == (64, 32)
    assert (history[2]['num_train'], history[2]['num_val']) == (300, 100)
    assert 0 <= history[2]['probe/top1'] <= 100
    # The final figure is the kNN of the trained backbone's features.
    hook = [h for h in runner.hooks if isinstance(h, KNNEvalHook)][0]
    train = extract_backbone_features(runner.model, hook._loaders[0])
    val = extract_backbone_features(runner.model, hook._loaders[1])
    expected = knn_accuracy(*train, *val)
    assert history[2]['knn/top1'] == pytest.approx(expected['top1'])
    assert history[2]['knn/top5'] == pytest.approx(expected['top5'])


@pytest.mark.parametrize('stopped_at', [2, 4])
def test_resumed_run_keeps_its_curve_without_duplicates(tmp_path,
                                                        stopped_at):
    """Resumed at iteration 2 of 4, the first start's curve point is kept
    and its final full-set entry dropped; resumed at 4 of 4 (killed during
    its final evaluation), the redone points replace the old ones."""
    work_dir = str(tmp_path)
    Runner.from_cfg(
        bench_cfg(work_dir, max_iters=stopped_at,
                  checkpoint_interval=stopped_at)).train()
    cfg = bench_cfg(work_dir, max_iters=4)
    cfg.resume = True
    cfg.load_from = osp.join(work_dir, f'iter_{stopped_at}.pth')
    Runner.from_cfg(cfg).train()
    with open(osp.join(work_dir, 'knn_history.json')) as f:
        history = json.load(f)
    assert [(h['iter'], h['final']) for h in history] == [(2, False),
                                                          (4, False),
                                                          (4, True)]


@pytest.mark.parametrize('key,value', [('interval', -1), ('k', 0),
                                       ('k', True), ('num_train', 0),
                                       ('num_val', 2.5),
                                       ('linear_probe', 1),
                                       ('temperature', 0.0),
                                       ('temperature', float('nan'))])
def test_bad_arguments_name_the_key(key, value):
    kwargs = dict(train_dataloader={}, val_dataloader={})
    kwargs[key] = value
    with pytest.raises(ValueError, match=key):
        KNNEvalHook(**kwargs)


BENCH = osp.join(REPO, 'configs', 'bench')


@pytest.mark.parametrize('method', [
    'simclr', 'nnclr', 'mocov3', 'snclr', 'byol', 'nn-byol', 'lightly-nnclr'
])
def test_every_bench_config_trains_through_the_runner(tmp_path, method):
    if method == 'lightly-nnclr':
        pytest.importorskip('lightly', reason='optional benchmark extra')
    config = osp.join(
        BENCH, f'{method}_resnet18-c16_1xb256-coslr-1000it_fashion-mnist.py')
    cfg = small_train_cfg(config, str(tmp_path), max_iters=2, batch_size=32,
                          num_images=64)
    knn = [h for h in cfg.custom_hooks if h.type == 'KNNEvalHook'][0]
    knn.update(interval=0, num_train=None, num_val=None)
    for key, n in (('train_dataloader', 200), ('val_dataloader', 50)):
        knn[key].dataset.update(data_root=synthetic_fmnist_root(),
                                indices=n)
    runner = Runner.from_cfg(cfg)
    runner.train()
    with open(osp.join(str(tmp_path), 'knn_history.json')) as f:
        final = json.load(f)[-1]
    assert final['final'] and 0 < final['knn/top1'] <= 100
    # Same backbone, views and budget for every method.
    model = runner.model
    assert type(model.data_preprocessor).__name__ == \
        'BatchMultiViewPreprocessor'
    assert model.backbone.base_channels == 16
