"""tools/benchmarks/data_throughput.py: both loaders and the device stage
run on real JPEGs, and the report renders what it measured."""
import json

import data_throughput


def test_quick_run_measures_both_loaders_and_the_device_stage(tmp_path):
    out = str(tmp_path / 'throughput.json')
    report = data_throughput.main(['--quick', '--no-docs', '--out', out])
    ms = report['cpu_ms_per_image']
    assert set(ms) == {'decode', 'crop_only', 'stock'}
    assert all(v > 0 for v in ms.values())
    assert report['cores_ratio'] == ms['stock'] / ms['crop_only']
    assert report['device_ms']['cpu'] > 0
    assert report['variant'].endswith('-gpuaug.py')
    json.dumps(report)  # what --out would hold


def test_device_agreement_compares_every_op():
    # On a GPU machine: CUDA against the CPU; here the code path, which
    # must find no difference between two runs on one device.
    diffs = data_throughput.device_agreement('cpu', 'cpu', size=16)
    assert set(diffs) == {'brightness', 'contrast', 'saturation', 'hue',
                          'grayscale', 'blur', 'solarize'}
    assert all(v == 0 for v in diffs.values())


def test_render_states_the_goal_and_the_gpu_share():
    report = dict(
        command='python tools/benchmarks/data_throughput.py',
        machine='test machine', stock='configs/x.py',
        variant='configs/x-gpuaug.py', images=64, repeats=5, batch=256,
        size=224, cpu_ms_per_image=dict(decode=1.0, crop_only=2.0,
                                        stock=6.0),
        cores_ratio=3.0, device_ms=dict(cpu=2000.0), cpu_threads=2)
    text = data_throughput.render(report)
    assert '| stock (+ jitter, greyscale, blur, solarize) | 6.0 |' in text
    assert '**3.00x** (goal >= 2.5: met)' in text
    assert 'no GPU on this machine' in text
    # 2000 ms x 2 threads / 256 images, against 6.0 - 2.0 ms in the loader.
    assert '15.6 ms per image and thread, where the loader spends 4.0 ms' \
        in text
    report.update(gpu='A GPU', r50_step_ms=400.0, device_share=0.05,
                  cuda_vs_cpu_levels=dict(blur=0.125, hue=0.0))
    report['device_ms']['cuda'] = 20.0
    text = data_throughput.render(report)
    assert '20.0 ms on A GPU, 5.0 % of a ResNet-50' in text
    assert 'goal <= 10 %: met' in text
    assert 'in 0..255 levels: blur 0.125, hue 0.000.' in text
