"""tools/benchmarks/score_dtype_training.py: two runs count as the same
run only when every weight and every logged loss is equal."""
import os.path as osp
import sys

import torch
from helpers import REPO

sys.path.insert(0, osp.join(REPO, 'tools', 'benchmarks'))
import score_dtype_training as sdt  # noqa: E402


def run(loss, weight, relookup=()):
    return dict(iters=list(range(1, len(loss) + 1)), loss=list(loss),
                relookup=list(relookup),
                knn_top1=80.0, weights=dict(w=torch.tensor(weight),
                                            b=torch.zeros(2)))


def report(float32, auto):
    return dict(command='cmd', machine='test machine',
                rows=[sdt.compare('nnclr', 98304,
                                  dict(float32=float32, auto=auto))])


def test_identical_runs_are_the_same_run():
    rep = report(run([3.0, 2.5], [1.0, 2.0]),
                 run([3.0, 2.5], [1.0, 2.0], relookup=[0.0, 0.25]))
    row = rep['rows'][0]
    assert row['differing_tensors'] == [] and row['equal_losses'] == 2
    assert row['relookup_mean'] == 0.125 and row['relookup_nonzero'] == 1
    assert '| nnclr @ 98,304 | 12.50% / 25.00% / 1 of 2 | yes (2 tensors, '\
        '2 losses) |' in sdt.render(rep)


def test_a_different_weight_or_loss_is_reported():
    # One ulp apart: bit-for-bit is the claim.
    w = torch.tensor(1.0)
    off = torch.nextafter(w, torch.tensor(2.0)).item()
    rep = report(run([3.0, 2.5], [1.0, 2.0]),
                 run([3.0, 2.5 + 1e-6], [off, 2.0], relookup=[0.0]))
    row = rep['rows'][0]
    assert row['differing_tensors'] == ['w'] and row['equal_losses'] == 1
    assert 'NO: 1 tensors differ, 1 of 2 losses equal' in sdt.render(rep)
