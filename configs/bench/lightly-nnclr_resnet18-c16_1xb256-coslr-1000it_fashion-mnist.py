# Quality benchmark peer: lightly's NNMemoryBankModule + NTXentLoss with
# the NNCLR bench config's backbone, MLPs, views, optimiser and budget.
# Needs the optional extra: pip install -r requirements/benchmark.txt
_base_ = './nnclr_resnet18-c16_1xb256-coslr-1000it_fashion-mnist.py'

custom_imports = dict(
    imports=['nnclr_plugin', 'nnclr_plugin.peers.lightly_nnclr'],
    allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='LightlyNNCLR',
    data_preprocessor={{_base_.model.data_preprocessor}},
    backbone={{_base_.model.backbone}},
    neck={{_base_.model.neck}},
    predictor={{_base_.model.head.predictor}},
    memory_size={{_base_.model.head.queue.size}},
    temperature={{_base_.model.head.loss.temperature}})
# lightly's memory bank manages itself: no SupportSetQueueHook.
custom_hooks = [{{_base_.bench_knn_hook}}]
