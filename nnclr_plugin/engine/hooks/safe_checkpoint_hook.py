"""CheckpointHook that never leaves a run without a readable checkpoint."""
import difflib
import inspect
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS

# The hook passes these to Runner.save_checkpoint itself; only the rest of
# its parameters may come through the hook's **kwargs.
_PASSED_BY_HOOK = {'self', 'out_dir', 'filename', 'file_client_args',
                   'save_optimizer', 'save_param_scheduler', 'meta',
                   'by_epoch', 'backend_args'}


def check_checkpoint_hook_args(kwargs: dict, key: str) -> None:
    """Refuse arguments that neither ``CheckpointHook`` nor
    ``Runner.save_checkpoint`` takes.

    ``CheckpointHook`` forwards unknown keyword arguments to
    ``Runner.save_checkpoint``, so a misspelt one (``intervl=2``) passes the
    build and the whole run trains, then fails at its first save without
    writing any checkpoint.

    Args:
        kwargs (dict): The extra keyword arguments the hook received.
        key (str): Their config prefix, for the message.

    Raises:
        TypeError: Naming ``key.<name>`` and the closest valid argument.
    """
    forwarded = set(inspect.signature(Runner.save_checkpoint).parameters)
    forwarded -= _PASSED_BY_HOOK
    unknown = sorted(set(kwargs) - forwarded)
    if not unknown:
        return
    valid = sorted(set(inspect.signature(CheckpointHook.__init__).parameters)
                   - {'self', 'kwargs'} | forwarded)
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, valid, n=1)
        hints.append(f'{key}.{name}' +
                     (f' (did you mean {key}.{close[0]}?)' if close else ''))
    raise TypeError(
        f'Unknown checkpoint hook argument: {", ".join(hints)}. Valid '
        f'arguments: {", ".join(valid)}.')


def _atomic_write_text(path: str, text: str) -> None:
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with crash-safe saving.

    mmengine 0.10 deletes the oldest kept checkpoint *before* writing the
    new one and writes the new file in place: with ``max_keep_ckpts=1`` a
    crash, a kill or a refused save (``NonFiniteLossHook``) during the
    write leaves no intact checkpoint at all, and ``last_checkpoint`` may
    name a partial file. Here the new checkpoint is written to a temporary
    name and atomically renamed, ``last_checkpoint`` is replaced
    atomically, and only then are checkpoints beyond ``max_keep_ckpts``
    removed. On non-local storage backends the stock behaviour is kept.

    Unknown arguments are refused when the hook is built (mmengine's hook
    would pass them on to ``Runner.save_checkpoint`` and fail only at the
    first save, after training to it).

    Args:
        **kwargs: Arguments of :class:`mmengine.hooks.CheckpointHook`.
    """

    def __init__(self, *args, **kwargs) -> None:
        known = set(inspect.signature(CheckpointHook.__init__).parameters)
        check_checkpoint_hook_args(
            {k: v for k, v in kwargs.items() if k not in known},
            'default_hooks.checkpoint')
        super().__init__(*args, **kwargs)

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)
        ckpt_filename = self.filename_tmpl.format(step)
        tmp_filename = f'.{ckpt_filename}.partial'
        runner.save_checkpoint(
            self.out_dir,
            tmp_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        self.last_ckpt = osp.join(self.out_dir, ckpt_filename)
        if is_main_process():
            os.replace(osp.join(self.out_dir, tmp_filename), self.last_ckpt)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        if self.max_keep_ckpts > 0 and (not self.keep_ckpt_ids
                                        or self.keep_ckpt_ids[-1] != step):
            # keep_ckpt_ids is a deque with maxlen: pop the stale steps
            # explicitly, after the new file is in place.
            stale = []
            while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
            for old_step in stale:
                old = osp.join(self.out_dir,
                               self.filename_tmpl.format(old_step))
                if is_main_process() and osp.isfile(old) and \
                        old != self.last_ckpt:
                    os.remove(old)
        if is_main_process():
            _atomic_write_text(
                osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
