# mmpretrain's runtime plus the import that registers this plugin.
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)
