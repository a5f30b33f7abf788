# NNCLR's head at the paper's sizes, shared by the ResNet-50 and ViT
# configs (which inherit it with `head={{_base_.nnclr_head}}`).
nnclr_head = dict(
    type='NNCLRHead',
    # Prediction MLP: 256-4096-256, BN + ReLU on the hidden layer only.
    predictor=dict(
        type='NonLinearNeck',
        in_channels=256,
        hid_channels=4096,
        out_channels=256,
        num_layers=2,
        with_bias=False,
        with_last_bn=False,
        with_avg_pool=False,
        norm_cfg=dict(type='SyncBN')),
    # 98,304 = 24 global batches of 4096, ~7.7 % of ImageNet-1k. The lookup
    # scores the queue in blocks of 8192 rows, so the B x 98,304 similarity
    # matrix is never materialised.
    queue=dict(
        type='SupportSetQueue', size=98304, feat_dim=256, block_size=8192),
    loss=dict(type='NNContrastiveLoss', temperature=0.1),
    k=1)
