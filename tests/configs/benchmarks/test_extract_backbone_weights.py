"""tools/model_converters/extract_backbone_weights.py on real plugin
pretrain checkpoints (NNCLR ResNet-50 / ViT-S, SNCLR with a momentum
encoder), in the three output formats."""
import importlib.util

import pytest
import torch
import torch.nn.functional as F
import torchvision
from downstream_helpers import (
    assert_same_tensors,
    extract,
    extract_module,
    load_state,
    prefixed,
)
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from torch import nn

init_default_scope('mmpretrain')


def test_default_key_writes_the_backbone_without_prefix(
        r50_pretrain, tmp_path):
    out = extract(r50_pretrain, str(tmp_path / 'backbone.pth'))
    # Loads with torch's safe loader and no allow-list: only tensors and
    # plain Python values inside.
    written = torch.load(out, map_location='cpu', weights_only=True)
    assert set(written) == {'state_dict', 'meta'}
    state = written['state_dict']
    assert not any(k.startswith('backbone.') for k in state)
    assert_same_tensors(state, prefixed(r50_pretrain))
    # No neck / head / support-set tensors.
    assert len(state) == len(prefixed(r50_pretrain))
    meta = written['meta']
    assert meta['key'] == 'backbone.' and meta['format'] == 'mmpretrain'
    assert meta['epoch'] == 3 and meta['iter'] == 30
    assert meta['num_tensors'] == len(state)
    assert "type='NNCLR'" in meta['pretrain_cfg']


def test_torchvision_resnet50_format_loads_into_torchvision(
        r50_pretrain, tmp_path):
    out = str(tmp_path / 'tv.pth')
    extract_module().main(
        [r50_pretrain, out, '--format', 'torchvision-resnet50'])
    state = load_state(out)
    model = torchvision.models.resnet50(weights=None)
    result = model.load_state_dict(state, strict=False)
    # Only the classifier is left for the user.
    assert sorted(result.missing_keys) == ['fc.bias', 'fc.weight']
    assert result.unexpected_keys == []
    model.fc = nn.Identity()
    model.load_state_dict(state, strict=True)
    assert_same_tensors(
        {k: v for k, v in model.state_dict().items()},
        prefixed(r50_pretrain))

    # Same function as the mmpretrain backbone it came from (pytorch
    # style: the stride sits in the 3x3 conv in both).
    backbone = MODELS.build(dict(type='ResNet', depth=50))
    backbone.load_state_dict(prefixed(r50_pretrain), strict=True)
    backbone.eval()
    model.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = backbone(x)[-1].mean(dim=(2, 3))
        actual = model(x)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)


def test_torchvision_format_rejects_other_resnets(snclr_pretrain, tmp_path):
    # The demo backbone is a CIFAR ResNet-18: wrong depth, wrong stem.
    with pytest.raises(ValueError, match='torchvision-compatible ResNet-50'):
        extract(
            snclr_pretrain, str(tmp_path / 'x.pth'),
            out_format='torchvision-resnet50')
    assert not (tmp_path / 'x.pth').exists()


# timm's vit_small_patch16_224 without its classifier `head.*`, written
# from timm's documented module names (timm is not installed here).
TIMM_BLOCK = [
    ('norm1.weight', (384, )), ('norm1.bias', (384, )),
    ('attn.qkv.weight', (1152, 384)), ('attn.qkv.bias', (1152, )),
    ('attn.proj.weight', (384, 384)), ('attn.proj.bias', (384, )),
    ('norm2.weight', (384, )), ('norm2.bias', (384, )),
    ('mlp.fc1.weight', (1536, 384)), ('mlp.fc1.bias', (1536, )),
    ('mlp.fc2.weight', (384, 1536)), ('mlp.fc2.bias', (384, )),
]
TIMM_VIT_SMALL = {
    'cls_token': (1, 1, 384),
    'pos_embed': (1, 197, 384),
    'patch_embed.proj.weight': (384, 3, 16, 16),
    'patch_embed.proj.bias': (384, ),
    **{
        f'blocks.{i}.{name}': shape
        for i in range(12) for name, shape in TIMM_BLOCK
    },
    'norm.weight': (384, ),
    'norm.bias': (384, ),
}
# timm name -> mmpretrain name, per block and outside.
MMPRETRAIN_BLOCK = {
    'norm1': 'ln1', 'attn.qkv': 'attn.qkv', 'attn.proj': 'attn.proj',
    'norm2': 'ln2', 'mlp.fc1': 'ffn.layers.0.0', 'mlp.fc2': 'ffn.layers.1'
}


def mmpretrain_name(timm_name: str) -> str:
    if timm_name.startswith('blocks.'):
        _, index, rest = timm_name.split('.', 2)
        module, param = rest.rsplit('.', 1)
        return f'layers.{index}.{MMPRETRAIN_BLOCK[module]}.{param}'
    return {
        'patch_embed.proj.weight': 'patch_embed.projection.weight',
        'patch_embed.proj.bias': 'patch_embed.projection.bias',
        'norm.weight': 'ln1.weight',
        'norm.bias': 'ln1.bias',
    }.get(timm_name, timm_name)


def timm_style_forward(state, x, num_heads=12):
    """timm's VisionTransformer.forward_features + class-token pooling,
    written out with the timm parameter names."""
    w = state
    x = F.conv2d(x, w['patch_embed.proj.weight'], w['patch_embed.proj.bias'],
                 stride=16).flatten(2).transpose(1, 2)
    x = torch.cat([w['cls_token'].expand(x.shape[0], -1, -1), x], dim=1)
    x = x + w['pos_embed']
    dims = x.shape[-1]
    depth = len({k.split('.')[1] for k in w if k.startswith('blocks.')})
    for i in range(depth):
        p = f'blocks.{i}.'
        y = F.layer_norm(x, (dims, ), w[p + 'norm1.weight'],
                         w[p + 'norm1.bias'], eps=1e-6)
        qkv = F.linear(y, w[p + 'attn.qkv.weight'], w[p + 'attn.qkv.bias'])
        q, k, v = qkv.reshape(x.shape[0], x.shape[1], 3, num_heads,
                              dims // num_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)
        y = y.transpose(1, 2).reshape(x.shape)
        x = x + F.linear(y, w[p + 'attn.proj.weight'], w[p + 'attn.proj.bias'])
        y = F.layer_norm(x, (dims, ), w[p + 'norm2.weight'],
                         w[p + 'norm2.bias'], eps=1e-6)
        y = F.gelu(F.linear(y, w[p + 'mlp.fc1.weight'], w[p + 'mlp.fc1.bias']))
        x = x + F.linear(y, w[p + 'mlp.fc2.weight'], w[p + 'mlp.fc2.bias'])
    x = F.layer_norm(x, (dims, ), w['norm.weight'], w['norm.bias'], eps=1e-6)
    return x[:, 0]


def test_timm_vit_format_matches_timm_names_and_function(
        vit_small_pretrain, tmp_path):
    out = extract(
        vit_small_pretrain, str(tmp_path / 'timm.pth'), out_format='timm-vit')
    state = load_state(out)
    assert {k: tuple(v.shape) for k, v in state.items()} == TIMM_VIT_SMALL
    source = prefixed(vit_small_pretrain)
    assert len(source) == len(state)
    for name, value in state.items():
        assert torch.equal(value, source[mmpretrain_name(name)]), name

    # The renamed weights compute what the mmpretrain backbone computes.
    backbone = MODELS.build(
        dict(type='MoCoV3ViT', arch='mocov3-small', img_size=224,
             patch_size=16))
    backbone.load_state_dict(source, strict=True)
    backbone.eval()
    x = torch.randn(2, 3, 224, 224,
                    generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = backbone(x)[-1]
        actual = timm_style_forward(state, x)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(
    importlib.util.find_spec('timm') is None, reason='timm not installed')
def test_timm_vit_format_loads_into_timm(vit_small_pretrain, tmp_path):
    import timm
    out = extract(
        vit_small_pretrain, str(tmp_path / 'timm.pth'), out_format='timm-vit')
    model = timm.create_model('vit_small_patch16_224', pretrained=False)
    result = model.load_state_dict(load_state(out), strict=False)
    assert sorted(result.missing_keys) == ['head.bias', 'head.weight']
    assert result.unexpected_keys == []


def test_timm_vit_format_rejects_resnets(r50_pretrain, tmp_path):
    with pytest.raises(ValueError, match='No timm name'):
        extract(r50_pretrain, str(tmp_path / 'x.pth'), out_format='timm-vit')


def test_momentum_encoder_of_snclr(snclr_pretrain, tmp_path):
    key = 'momentum_encoder.module.0.'
    out = extract(snclr_pretrain, str(tmp_path / 'momentum.pth'), key=key)
    momentum = load_state(out)
    assert_same_tensors(momentum, prefixed(snclr_pretrain, key))
    online = load_state(extract(snclr_pretrain, str(tmp_path / 'online.pth')))
    # Same architecture, different weights.
    assert sorted(online) == sorted(momentum)
    assert not torch.equal(online['conv1.weight'], momentum['conv1.weight'])


def test_unknown_key_names_the_backbone_prefixes(snclr_pretrain, tmp_path):
    with pytest.raises(KeyError) as error:
        extract(snclr_pretrain, str(tmp_path / 'x.pth'), key='target_net.')
    message = str(error.value)
    assert "'backbone.'" in message
    assert "'momentum_encoder.module.0.'" in message


def test_empty_key_converts_a_bare_backbone(r50_pretrain, tmp_path):
    bare = extract(r50_pretrain, str(tmp_path / 'bare.pth'))
    out = extract(
        bare, str(tmp_path / 'tv.pth'), key='',
        out_format='torchvision-resnet50')
    assert_same_tensors(load_state(out), prefixed(r50_pretrain))
