"""Every config folder documents its configs as OpenMMLab users expect: a
metafile.yml that lists each config once, under its own name and path, in
the folder's collection, with Epochs and Batch Size that agree with the
config and its ``{gpus}xb{batch}-...-{epochs}e`` name, and a README.md that
links each config. (The one check of these for every folder.)"""
import glob
import os.path as osp

import pytest
import yaml
from helpers import REPO, load_config, parse_config_name

# Folder -> the collection its metafile files every config under.
COLLECTIONS = {'nnclr': 'NNCLR', 'snclr': 'SNCLR', 'composed': 'NN-positives'}


def test_every_documented_folder_is_checked():
    documented = sorted(
        osp.basename(osp.dirname(p))
        for p in glob.glob(osp.join(REPO, 'configs', '*', 'metafile.yml')))
    assert documented == sorted(COLLECTIONS)


@pytest.mark.parametrize('folder', sorted(COLLECTIONS))
def test_metafile_and_readme_match_the_configs(folder):
    root = osp.join(REPO, 'configs', folder)
    configs = sorted(osp.basename(p)[:-3]
                     for p in glob.glob(osp.join(root, '*.py')))
    with open(osp.join(root, 'metafile.yml')) as f:
        meta = yaml.safe_load(f)
    with open(osp.join(root, 'README.md')) as f:
        readme = f.read()
    assert [c['Name'] for c in meta['Collections']] == [COLLECTIONS[folder]]
    assert sorted(m['Name'] for m in meta['Models']) == configs
    for model in meta['Models']:
        name = model['Name']
        info = parse_config_name(f'{name}.py')
        assert model['In Collection'] == COLLECTIONS[folder], name
        assert model['Config'] == f'configs/{folder}/{name}.py'
        assert osp.isfile(osp.join(REPO, model['Config'])), name
        assert f'./{name}.py' in readme, name
        cfg = load_config(osp.join(REPO, model['Config']))
        gpus, batch = info['gpus'], info['batch']
        assert cfg.train_dataloader.batch_size == batch, name
        assert model['Metadata']['Batch Size'] == gpus * batch, name
        assert model['Metadata']['Training Resources'].startswith(
            f'{gpus}'), name
        assert model['Metadata']['Epochs'] == info['epochs'], name
        assert cfg.train_cfg.max_epochs == info['epochs'], name
