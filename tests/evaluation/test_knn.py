"""Tests of the weighted kNN evaluation (nnclr_plugin.evaluation and
tools/analysis_tools/knn_eval.py)."""
import copy
import glob
import json
import math
import os.path as osp
import subprocess
import sys

import pytest
import torch
from helpers import REPO as REPO_ROOT
from helpers import synthetic_fmnist_root
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import nnclr_plugin  # noqa: F401  (registers LocalFashionMNIST etc.)
from nnclr_plugin.apis import knn_eval
from nnclr_plugin.evaluation import (
    extract_backbone_features,
    knn_accuracy,
    linear_probe,
    weighted_knn_scores,
)
from nnclr_plugin.evaluation.features import _pick_feature

DATA_ROOT = synthetic_fmnist_root()
DATA_CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                       'fashion_mnist_eval.py')
# The demo's iteration count is part of its file name and may change.
DEMO_CONFIGS = sorted(
    glob.glob(
        osp.join(REPO_ROOT, 'configs', 'demo',
                 'simclr_resnet18-c32_*_fashion-mnist.py')))


# --------------------------------------------------------------------------
# A feature set small enough to check by hand (2-D, 3 classes, k=3, T=1).
# Rows are deliberately not unit length: the functions must normalise.
#   t0 = (2, 0)      -> (1, 0)       class 0
#   t1 = (0, 1)                      class 1
#   t2 = (-3, 0)     -> (-1, 0)      class 2
#   t3 = (0.6, 0.8)                  class 1
#   t4 = (0.8, -0.6)                 class 0
HAND_TRAIN = torch.tensor([[2., 0.], [0., 1.], [-3., 0.], [.6, .8],
                           [.8, -.6]])
HAND_TRAIN_LABELS = torch.tensor([0, 1, 2, 1, 0])
# q0 = (5, 0) -> (1, 0): cos to t0..t4 = 1, 0, -1, .6, .8
#   top-3: t0 (1, c0), t4 (.8, c0), t3 (.6, c1)
#   votes: c0 = e^1 + e^.8, c1 = e^.6, c2 = 0          -> class 0
# q1 = (-.6, .8): cos = -.6, .8, .6, .28, -.96
#   top-3: t1 (.8, c1), t2 (.6, c2), t3 (.28, c1)
#   votes: c0 = 0, c1 = e^.8 + e^.28, c2 = e^.6        -> class 1
# q2 = (-.8, -.6): cos = -.8, -.6, .8, -.96, -.28
#   top-3: t2 (.8, c2), t4 (-.28, c0), t1 (-.6, c1)
#   votes: c0 = e^-.28, c1 = e^-.6, c2 = e^.8          -> class 2, then 0
HAND_TEST = torch.tensor([[5., 0.], [-.6, .8], [-.8, -.6]])
e = math.exp
HAND_SCORES = torch.tensor([
    [e(1) + e(.8), e(.6), 0.],
    [0., e(.8) + e(.28), e(.6)],
    [e(-.28), e(-.6), e(.8)],
])
# q2 is labelled 0: wrong at top-1, right at top-2.
HAND_TEST_LABELS = torch.tensor([0, 1, 0])


def test_hand_checked_scores_and_accuracy():
    scores = weighted_knn_scores(
        HAND_TRAIN, HAND_TRAIN_LABELS, HAND_TEST, num_classes=3, k=3,
        temperature=1.0)
    torch.testing.assert_close(scores, HAND_SCORES)
    assert scores.argmax(dim=1).tolist() == [0, 1, 2]

    acc = knn_accuracy(
        HAND_TRAIN, HAND_TRAIN_LABELS, HAND_TEST, HAND_TEST_LABELS,
        num_classes=3, k=3, temperature=1.0, topk=(1, 2))
    assert acc == pytest.approx({'top1': 200 / 3, 'top2': 100.0})


def test_temperature_weighting_beats_majority():
    # One neighbour of class 1 with cos 1 against two of class 0 with cos 0:
    #   T=0.5: c1 = e^(1/.5) = 7.39 > c0 = 2 * e^0 = 2      -> class 1
    #   T=10:  c1 = e^(1/10) = 1.11 < c0 = 2                -> class 0
    train = torch.tensor([[1., 0.], [0., 1.], [0., -1.]])
    labels = torch.tensor([1, 0, 0])
    query = torch.tensor([[1., 0.]])
    sharp = weighted_knn_scores(train, labels, query, 2, k=3, temperature=.5)
    torch.testing.assert_close(sharp, torch.tensor([[2., math.exp(2)]]))
    flat = weighted_knn_scores(train, labels, query, 2, k=3, temperature=10.)
    torch.testing.assert_close(flat, torch.tensor([[2., math.exp(.1)]]))
    assert sharp.argmax().item() == 1 and flat.argmax().item() == 0


def _random_problem(seed=0, num_train=200, num_test=57, dim=16, classes=5):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(num_train, dim, generator=gen),
            torch.randint(classes, (num_train, ), generator=gen),
            torch.randn(num_test, dim, generator=gen),
            torch.randint(classes, (num_test, ), generator=gen), classes)


def _brute_force_scores(train, train_labels, test, num_classes, k, temp):
    """Reference: full similarity matrix, one query at a time."""
    train = train / train.norm(dim=1, keepdim=True)
    test = test / test.norm(dim=1, keepdim=True)
    sim = test @ train.t()
    k = min(k, len(train))
    scores = torch.zeros(len(test), num_classes)
    for i in range(len(test)):
        order = sorted(range(len(train)), key=lambda j: -sim[i, j].item())
        for j in order[:k]:
            scores[i, train_labels[j]] += math.exp(sim[i, j].item() / temp)
    return scores


@pytest.mark.parametrize('k,temp', [(1, 0.07), (10, 0.07), (50, 0.5)])
def test_matches_brute_force(k, temp):
    train, train_labels, test, test_labels, classes = _random_problem()
    scores = weighted_knn_scores(train, train_labels, test, classes, k=k,
                                 temperature=temp, chunk_size=16)
    expected = _brute_force_scores(train, train_labels, test, classes, k,
                                   temp)
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-6)
    assert torch.equal(scores.argmax(1), expected.argmax(1))

    acc = knn_accuracy(train, train_labels, test, test_labels, classes,
                       k=k, temperature=temp, topk=(1, 3))
    top3 = expected.topk(3, dim=1).indices
    assert acc['top1'] == pytest.approx(
        (expected.argmax(1) == test_labels).float().mean().item() * 100)
    assert acc['top3'] == pytest.approx(
        (top3 == test_labels[:, None]).any(1).float().mean().item() * 100)


@pytest.mark.parametrize('chunk_size', [1, 7, 56, 57, 1000])
def test_chunked_equals_unchunked(chunk_size):
    train, train_labels, test, _, classes = _random_problem(seed=1)
    whole = weighted_knn_scores(train, train_labels, test, classes, k=20,
                                chunk_size=len(test))
    chunked = weighted_knn_scores(train, train_labels, test, classes, k=20,
                                  chunk_size=chunk_size)
    # Only float rounding may differ (the matmul blocks differently), and
    # exp(sim / 0.07) amplifies it 14-fold: not bit-exact, hence rtol.
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=0)
    assert torch.equal(chunked.argmax(1), whole.argmax(1))


def test_k_clipped_to_train_size():
    train, train_labels, test, test_labels, classes = _random_problem(
        seed=2, num_train=12)
    clipped = weighted_knn_scores(train, train_labels, test, classes, k=500)
    exact = weighted_knn_scores(train, train_labels, test, classes, k=12)
    torch.testing.assert_close(clipped, exact)
    assert knn_accuracy(train, train_labels, test, test_labels, k=500) == \
        knn_accuracy(train, train_labels, test, test_labels, k=12)


def test_topk_clipped_and_num_classes_inferred():
    acc = knn_accuracy(HAND_TRAIN, HAND_TRAIN_LABELS, HAND_TEST,
                       HAND_TEST_LABELS, k=3, temperature=1.0)
    # 3 classes inferred from the labels; top-5 means top-3 here.
    assert acc == pytest.approx({'top1': 200 / 3, 'top5': 100.0})


GOOD = dict(
    train_feats=HAND_TRAIN,
    train_labels=HAND_TRAIN_LABELS,
    test_feats=HAND_TEST,
    num_classes=3)


@pytest.mark.parametrize('override,pattern', [
    (dict(k=0), r'\bk=0'),
    (dict(k=-3), r'\bk=-3'),
    (dict(k=2.5), r'\bk=2.5'),
    (dict(temperature=0.0), r'temperature=0.0'),
    (dict(temperature=-0.1), r'temperature=-0.1'),
    (dict(temperature=float('nan')), r'temperature=nan'),
    (dict(chunk_size=0), r'chunk_size=0'),
    (dict(num_classes=0), r'num_classes=0'),
    (dict(train_feats=HAND_TRAIN[:, 0]), r'train_feats'),
    (dict(train_labels=HAND_TRAIN_LABELS[:4]), r'train_labels'),
    (dict(train_labels=HAND_TRAIN_LABELS.float()), r'train_labels'),
    (dict(train_labels=torch.tensor([0, 1, 2, 3, 0])), r'train_labels'),
    (dict(test_feats=torch.ones(2, 3)), r'test_feats'),
    (dict(train_feats=torch.ones(0, 2),
          train_labels=torch.zeros(0, dtype=torch.long)), r'train_feats'),
])
def test_bad_arguments_raise(override, pattern):
    with pytest.raises(ValueError, match=pattern):
        weighted_knn_scores(**dict(GOOD, **override))


@pytest.mark.parametrize('override,pattern', [
    (dict(test_labels=HAND_TEST_LABELS[:2]), r'test_labels'),
    (dict(test_labels=torch.tensor([0, 1, 7])), r'test_labels'),
    (dict(topk=(0, )), r'topk'),
    (dict(topk=()), r'topk'),
    (dict(test_feats=torch.ones(0, 2),
          test_labels=torch.zeros(0, dtype=torch.long)), r'test_feats'),
])
def test_bad_accuracy_arguments_raise(override, pattern):
    args = dict(
        train_feats=HAND_TRAIN,
        train_labels=HAND_TRAIN_LABELS,
        test_feats=HAND_TEST,
        test_labels=HAND_TEST_LABELS,
        num_classes=3)
    with pytest.raises(ValueError, match=pattern):
        knn_accuracy(**dict(args, **override))


def test_pick_feature_shapes():
    fmap = torch.randn(2, 4, 3, 3)
    torch.testing.assert_close(_pick_feature((fmap, )), fmap.mean((2, 3)))
    cls_token = torch.randn(2, 4)
    patch = torch.randn(2, 4, 5, 5)
    # ViT-style last stage given as (patch_token, cls_token).
    assert _pick_feature([(patch, cls_token)]) is cls_token
    assert _pick_feature((fmap, [cls_token])) is cls_token
    with pytest.raises(ValueError, match='out_type'):
        _pick_feature((torch.randn(2, 10, 4), ))


# --------------------------------------------------------------------------
# A real model on Fashion-MNIST-format data (generated).


def _load_tool():
    return knn_eval


def _build_loader(split_key, num, batch_size=128, collate=None):
    data_cfg = Config.fromfile(DATA_CONFIG)
    loader_cfg = copy.deepcopy(data_cfg[split_key])
    loader_cfg.update(
        batch_size=batch_size,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False))
    if collate is not None:
        loader_cfg.collate_fn = dict(type=collate)
    loader_cfg.dataset.update(data_root=DATA_ROOT, indices=num)
    return Runner.build_dataloader(loader_cfg)


@pytest.fixture(scope='module')
def demo_model(tmp_path_factory):
    """A seeded random-init SimCLR of the demo config and its checkpoints
    (full Runner-style and backbone-only)."""
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(DEMO_CONFIGS[0])
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    work = tmp_path_factory.mktemp('knn')
    full = str(work / 'full.pth')
    backbone_only = str(work / 'backbone.pth')
    torch.save({'state_dict': model.state_dict()}, full)
    torch.save({'state_dict': model.backbone.state_dict()}, backbone_only)
    return model, full, backbone_only, work


def test_selfsup_preprocessor_with_both_collates(demo_model):
    model = demo_model[0]
    model.train()
    pseudo = extract_backbone_features(
        model, _build_loader('val_dataloader', 40, batch_size=16))
    # default_collate gives one stacked tensor, which SelfSupDataPreprocessor
    # itself handles: the reference for the pseudo_collate path.
    stacked = extract_backbone_features(
        model,
        _build_loader('val_dataloader', 40, 16, collate='default_collate'))
    assert model.training, 'the previous train/eval mode must be restored'
    assert pseudo[0].shape == (40, 256) and pseudo[1].shape == (40, )
    torch.testing.assert_close(pseudo[0], stacked[0])
    assert torch.equal(pseudo[1], stacked[1])

    first = extract_backbone_features(
        model, _build_loader('val_dataloader', 40, batch_size=16),
        max_samples=25)
    torch.testing.assert_close(first[0], pseudo[0][:25])
    assert torch.equal(first[1], pseudo[1][:25])


def test_image_classifier_gives_same_features(demo_model):
    from mmpretrain.registry import MODELS
    simclr = demo_model[0]
    cfg = Config.fromfile(DEMO_CONFIGS[0])
    classifier = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=cfg.model.backbone,
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=256),
            data_preprocessor=dict(
                num_classes=10, mean=[72.94], std=[90.02], to_rgb=False)))
    classifier.backbone.load_state_dict(simclr.backbone.state_dict())
    loader = _build_loader('val_dataloader', 32, batch_size=16)
    feats, labels = extract_backbone_features(classifier, loader)
    ref_feats, ref_labels = extract_backbone_features(simclr, loader)
    torch.testing.assert_close(feats, ref_feats)
    assert torch.equal(labels, ref_labels)


def test_knn_eval_tool_end_to_end(demo_model):
    model, full, backbone_only, work = demo_model
    tool = _load_tool()
    common = [
        '--data-root', DATA_ROOT, '--max-train', '300', '--max-test', '100',
        '--k', '20', '--batch-size', '128', '--cfg-options',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0'
    ]
    out = str(work / 'full.json')
    # The package knows no repository: without a default the option is
    # required (tools/analysis_tools/knn_eval.py passes this one).
    with pytest.raises(SystemExit):
        tool.main([DEMO_CONFIGS[0], full, '--out', out] + common)
    common += ['--data-config', DATA_CONFIG]
    results = tool.main([DEMO_CONFIGS[0], full, '--out', out] + common)

    with open(out) as f:
        saved = json.load(f)
    assert saved == results
    for key in ('top1', 'top5', 'k', 'temperature', 'num_train', 'num_test',
                'checkpoint'):
        assert key in saved
    assert 0 <= saved['top1'] <= saved['top5'] <= 100
    assert (saved['k'], saved['temperature']) == (20, 0.07)
    assert (saved['num_train'], saved['num_test']) == (300, 100)
    assert saved['checkpoint'] == full
    assert saved['missing_backbone_keys'] == 0

    # Independent path: the in-memory model, loaders built here.
    train = extract_backbone_features(
        model, _build_loader('train_dataloader', 300))
    test = extract_backbone_features(
        model, _build_loader('val_dataloader', 100))
    expected = knn_accuracy(*train, *test, num_classes=10, k=20,
                            temperature=0.07)
    assert saved['top1'] == pytest.approx(expected['top1'])
    assert saved['top5'] == pytest.approx(expected['top5'])

    from_backbone = tool.main([DEMO_CONFIGS[0], backbone_only] + common)
    assert from_backbone['missing_backbone_keys'] == 0
    assert from_backbone['top1'] == pytest.approx(saved['top1'])
    assert from_backbone['top5'] == pytest.approx(saved['top5'])


def test_linear_probe_tool_end_to_end(demo_model):
    model, full, backbone_only, work = demo_model
    out = str(work / 'probe.json')
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'linear_probe.py'),
        DEMO_CONFIGS[0], backbone_only, '--data-root', DATA_ROOT,
        '--max-train', '300', '--max-test', '100', '--weight-decays',
        '1e-3', '1e-1', '--out', out, '--cfg-options',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0'
    ], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Linear probe top-1' in proc.stdout
    with open(out) as f:
        saved = json.load(f)
    assert saved['missing_backbone_keys'] == 0
    assert (saved['num_train'], saved['num_test']) == (300, 100)
    # Independent path: the in-memory model and the library function.
    train = extract_backbone_features(
        model, _build_loader('train_dataloader', 300))
    test = extract_backbone_features(
        model, _build_loader('val_dataloader', 100))
    expected = linear_probe(*train, *test, weight_decays=(1e-3, 1e-1),
                            num_classes=10)
    assert saved['top1'] == pytest.approx(expected['top1'])
    assert saved['weight_decay'] == expected['weight_decay']
