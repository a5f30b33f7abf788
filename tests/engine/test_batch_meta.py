"""What SupportSetQueueHook hands the queues from each batch (labels and
dataset indices, diagnostics only), read the way the kNN / probe feature
loop reads labels."""
import pytest


def _sample(label=None, idx=None):
    from mmpretrain.structures import DataSample
    sample = DataSample(
        metainfo={} if idx is None else dict(sample_idx=idx))
    return sample if label is None else sample.set_gt_label(label)


def test_batch_meta_reads_labels_and_indices():
    from nnclr_plugin.engine.hooks.support_set_queue_hook import batch_meta
    meta = batch_meta(dict(data_samples=[_sample(3, 10), _sample(0, 11)]))
    assert meta['labels'].tolist() == [3, 0]
    assert meta['sample_idx'].tolist() == [10, 11]


def test_batch_meta_without_a_single_class_records_no_labels():
    # Unlabelled or multi-label samples: no NN-agreement bookkeeping,
    # rather than the first of several labels.
    from nnclr_plugin.engine.hooks.support_set_queue_hook import batch_meta
    for samples in ([_sample(3, 0), _sample(None, 1)],
                    [_sample([1, 4], 0), _sample(2, 1)]):
        meta = batch_meta(dict(data_samples=samples))
        assert meta['labels'] is None
        assert meta['sample_idx'].tolist() == [0, 1]


def test_feature_loop_and_hook_read_labels_the_same_way():
    from nnclr_plugin.utils.samples import sample_label
    assert sample_label(_sample(7)) == 7
    assert sample_label(_sample()) is None
    with pytest.raises(ValueError, match=r'gt_label=\[1, 4\]'):
        sample_label(_sample([1, 4]))
