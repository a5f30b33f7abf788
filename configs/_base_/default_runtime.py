# mmpretrain's runtime plus the import that registers this plugin.
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['nnclr_plugin'], allow_failed_imports=False)

# Stop at the first NaN/inf loss and never checkpoint a non-finite model;
# write checkpoints atomically and delete old ones only after that.
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook', interval=1),
    non_finite_loss=dict(type='NonFiniteLossHook'))
