"""Every config folder documents its configs as OpenMMLab users expect: a
metafile.yml whose Epochs and Batch Size agree with the config and its
`{gpus}xb{batch}` name, and a README.md that links each config."""
import glob
import os.path as osp
import re

import pytest
import yaml
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FOLDERS = ['nnclr', 'snclr', 'composed']


@pytest.mark.parametrize('folder', FOLDERS)
def test_metafile_and_readme_match_the_configs(folder):
    root = osp.join(REPO, 'configs', folder)
    configs = sorted(osp.basename(p)[:-3]
                     for p in glob.glob(osp.join(root, '*.py')))
    with open(osp.join(root, 'metafile.yml')) as f:
        meta = yaml.safe_load(f)
    with open(osp.join(root, 'README.md')) as f:
        readme = f.read()
    collections = {c['Name'] for c in meta['Collections']}
    assert sorted(m['Name'] for m in meta['Models']) == configs
    for model in meta['Models']:
        name = model['Name']
        assert model['In Collection'] in collections
        assert model['Config'] == f'configs/{folder}/{name}.py'
        assert f'./{name}.py' in readme, name
        cfg = Config.fromfile(osp.join(REPO, model['Config']))
        gpus, batch = map(int, re.search(r'_(\d+)xb(\d+)', name).groups())
        assert cfg.train_dataloader.batch_size == batch, name
        assert model['Metadata']['Batch Size'] == gpus * batch, name
        assert model['Metadata']['Training Resources'].startswith(
            f'{gpus}'), name
        assert model['Metadata']['Epochs'] == cfg.train_cfg.max_epochs, name
