"""Fail before training when a Pretrained init did not load everything."""
import re
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from nnclr_plugin.utils.checkpoint_files import read_checkpoint

FIX_HINT = (
    'Extract the backbone first (python tools/model_converters/'
    'extract_backbone_weights.py PRETRAIN.pth backbone.pth) and point '
    'init_cfg.checkpoint at that file with prefix=None; or, for a whole '
    "pretrain checkpoint, set init_cfg.prefix='backbone.'.")


def pretrained_modules(model) -> List[Tuple[str, torch.nn.Module, dict]]:
    """``(name, module, init)`` for each ``Pretrained`` init_cfg in a model."""
    found = []
    for name, module in model.named_modules():
        inits = getattr(module, 'init_cfg', None)
        if isinstance(inits, dict):
            inits = [inits]
        for init in inits or []:
            if isinstance(init, dict) and init.get('type') == 'Pretrained':
                found.append((name, module, init))
    return found


def read_pretrained(init: dict) -> Dict[str, torch.Tensor]:
    """The state dict a ``PretrainedInit`` with this config loads."""
    checkpoint = read_checkpoint(init['checkpoint'], 'init_cfg.checkpoint')
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else {}
    state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
    prefix = init.get('prefix')
    if prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'
        state = {k[len(prefix):]: v for k, v in state.items()
                 if k.startswith(prefix)}
    return state


def as_loaded(module: torch.nn.Module,
              file_state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """``file_state`` as ``module.load_state_dict`` sees it.

    Modules may rewrite a state dict while loading it through their
    load-state-dict pre-hooks: mmpretrain's ViTs resize the position
    embedding of a 224 px pretrain to the grid of a 512 px segmentation
    input. The check compares against the rewritten tensors, so a resized
    embedding counts as loaded. ``file_state`` itself is left unchanged.
    """
    state = dict(file_state)
    for name, sub in module.named_modules():
        for hook in sub._load_state_dict_pre_hooks.values():
            hook(state, f'{name}.' if name else '', {}, True, [], [], [])
    return state


def check_pretrained_loaded(
        name: str,
        module: torch.nn.Module,
        init: dict,
        compare_values: bool = True,
        file_state: Optional[Dict[str, torch.Tensor]] = None) -> int:
    """Raise unless every tensor of ``module`` came from the file.

    Args:
        name (str): The module's path in the model (for the message).
        module (nn.Module): The module whose ``init_cfg`` is ``init``.
        init (dict): Its ``Pretrained`` init config.
        compare_values (bool): Also require equal values (right after
            ``init_weights``; not after a resume, when training changed
            them). Defaults to True.
        file_state (dict, optional): ``read_pretrained(init)``, when the
            caller has it already. Defaults to None (read here).

    Returns:
        int: Number of tensors checked.
    """
    if file_state is None:
        file_state = read_pretrained(init)
    file_state = as_loaded(module, file_state)
    own = module.state_dict()
    missing = [k for k in own if k not in file_state]
    shape = [k for k in own if k in file_state
             and tuple(file_state[k].shape) != tuple(own[k].shape)]
    differ = [] if not compare_values else [
        k for k in own if k in file_state and k not in shape
        and not torch.equal(own[k].cpu(), file_state[k].to(own[k].dtype))
    ]
    if missing or shape or differ:
        where = f'model.{name}' if name else 'model'
        problems = []
        if missing:
            problems.append(f'{len(missing)} missing (e.g. {missing[:3]})')
        if shape:
            problems.append(f'{len(shape)} with another shape (e.g. '
                            f'{shape[:3]})')
        if differ:
            problems.append(f'{len(differ)} overwritten after loading (e.g. '
                            f'{differ[:3]})')
        sample = list(file_state)[:3]
        # Only keys that were found and fit were loaded. Wrong shapes mean
        # another architecture (depth, width, patch size), where the
        # prefix/extraction advice would send the user the wrong way.
        loaded = len(own) - len(missing) - len(shape)
        if missing:
            advice = f'The file\'s keys look like {sample}. ' + FIX_HINT
        elif shape:
            advice = ('The names match but the shapes do not: the file '
                      'holds another architecture; build the backbone '
                      f'{where} with the settings it was pretrained with.')
        else:
            advice = ('Something changed the weights after init_weights '
                      '(another init_cfg or a hook): remove it.')
        raise RuntimeError(
            f'{where}.init_cfg loaded only {loaded} of {len(own)} tensors '
            f'from {init["checkpoint"]} (prefix={init.get("prefix")!r}): '
            + '; '.join(problems) + '. ' + advice)
    return len(own)


@HOOKS.register_module()
class PretrainedLoadCheckHook(Hook):
    """Stop before the first iteration if pretrained weights did not load.

    mmengine's ``PretrainedInit`` loads non-strictly: a whole pretrain
    checkpoint without ``prefix='backbone.'``, a wrong prefix or a file
    with other key names loads nothing, logs a warning and training goes
    on from random weights. After ``init_weights`` this hook re-reads every
    ``Pretrained`` file of the model and requires each tensor of the module
    to be present, of the same shape and (unless the run was resumed or
    loaded from a checkpoint) equal to the file's.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        resumed = bool(getattr(runner, '_load_from', None))
        checked = 0
        # Mask R-CNN C4 loads one file into two modules: read it once.
        files: Dict[tuple, Dict[str, torch.Tensor]] = {}
        for name, module, init in pretrained_modules(model):
            key = (init['checkpoint'], init.get('prefix'))
            if key not in files:
                files[key] = read_pretrained(init)
            checked += check_pretrained_loaded(
                name, module, init, compare_values=not resumed,
                file_state=files[key])
        if checked:
            runner.logger.info(
                f'PretrainedLoadCheckHook: all {checked} pretrained tensors '
                'loaded')
