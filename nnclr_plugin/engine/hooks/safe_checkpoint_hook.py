"""CheckpointHook that never leaves a run without a readable checkpoint."""
import difflib
import inspect
import os
import os.path as osp
import re
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS

from nnclr_plugin.utils.checkpoint_files import DIVERGED, LAST_GOOD

from .non_finite_loss_hook import losses_finite

# The hook passes these to Runner.save_checkpoint itself; only the rest of
# its parameters may come through the hook's **kwargs.
_PASSED_BY_HOOK = {'self', 'out_dir', 'filename', 'file_client_args',
                   'save_optimizer', 'save_param_scheduler', 'meta',
                   'by_epoch', 'backend_args'}


def check_checkpoint_hook_args(kwargs: dict, key: str) -> None:
    """Refuse keyword arguments that neither ``CheckpointHook`` nor
    ``Runner.save_checkpoint`` takes.

    ``CheckpointHook`` forwards unknown keyword arguments to
    ``Runner.save_checkpoint``, so a misspelt one (``intervl=2``) passes the
    build and the whole run trains, then fails at its first save without
    writing any checkpoint.

    Args:
        kwargs (dict): The keyword arguments the hook received.
        key (str): Their config prefix, for the message.

    Raises:
        TypeError: Naming ``key.<name>`` and the closest valid argument.
    """
    own = set(inspect.signature(CheckpointHook.__init__).parameters)
    own -= {'self', 'kwargs'}
    forwarded = set(inspect.signature(Runner.save_checkpoint).parameters)
    forwarded -= _PASSED_BY_HOOK
    unknown = sorted(set(kwargs) - own - forwarded)
    if not unknown:
        return
    valid = sorted(own | forwarded)
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
    """mmengine's ``CheckpointHook`` with crash-safe saving that never
    trades a good checkpoint for a diverged one.

    - **Atomic files.** mmengine 0.10 deletes the oldest kept checkpoint
      *before* writing the new one and writes the new file in place: a
      crash, a kill or a refused save during the write can leave no intact
      checkpoint. Here the new checkpoint goes to a temporary name and is
      atomically renamed; ``last_checkpoint`` is replaced atomically.
    - **Confirmed before old ones go.** A checkpoint counts as good once a
      later iteration has trained on its weights with a finite loss
      (``NonFiniteLossHook`` runs earlier in the same iteration and stops
      the run otherwise), or the run has ended cleanly after it. Only then
      is it named in ``<work_dir>/last_good_checkpoint`` and are the files
      beyond ``max_keep_ckpts`` removed, so ``max_keep_ckpts=1`` never
      leaves only a checkpoint whose weights have already overflowed. The
      window counts every matching file of the dir, also those an earlier
      run left.
    - **Typos refused at build.** Unknown arguments fail when the hook is
      built (mmengine's hook would pass them on to
      ``Runner.save_checkpoint`` and fail only at the first save).

    On non-local storage backends the stock behaviour is kept.

    Args:
        **kwargs: Arguments of :class:`mmengine.hooks.CheckpointHook`.
    """

    def __init__(self, *args, **kwargs) -> None:
        check_checkpoint_hook_args(kwargs, 'default_hooks.checkpoint')
        super().__init__(*args, **kwargs)
        self._unconfirmed: Optional[int] = None

    def _local(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        # This iteration trained on the weights of the newest checkpoint:
        # with a finite loss, that checkpoint is good.
        if losses_finite(outputs):
            self._confirm(runner)
        super().after_train_iter(runner, batch_idx, data_batch, outputs)

    def after_train(self, runner) -> None:
        self._confirm(runner)  # the run ended cleanly after it
        super().after_train(runner)

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not self._local():
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
            _atomic_write_text(
                osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self._unconfirmed = step

    def _confirm(self, runner) -> None:
        """Record the newest checkpoint as good, then drop the old ones."""
        if self._unconfirmed is None or not self._local():
            return
        step, self._unconfirmed = self._unconfirmed, None
        good = osp.join(self.out_dir, self.filename_tmpl.format(step))
        if not is_main_process():
            return
        _atomic_write_text(osp.join(runner.work_dir, LAST_GOOD), good)
        marker = osp.join(runner.work_dir, DIVERGED)
        if osp.isfile(marker):
            os.remove(marker)  # a newer good checkpoint supersedes it
        if self.max_keep_ckpts <= 0:
            return
        steps = sorted(s for s in self._saved_steps() if s <= step)
        for old in steps[:-self.max_keep_ckpts]:
            os.remove(osp.join(self.out_dir, self.filename_tmpl.format(old)))
        self.keep_ckpt_ids.clear()
        self.keep_ckpt_ids.extend(steps[-self.max_keep_ckpts:])
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))

    def _saved_steps(self):
        """Steps of the checkpoint files in ``out_dir`` named by the
        template (``iter_{}.pth``), whichever run wrote them."""
        pattern = re.compile(
            re.escape(self.filename_tmpl).replace(r'\{\}', r'(\d+)') + '$')
        for name in os.listdir(self.out_dir):
            match = pattern.match(name)
            if match:
                yield int(match.group(1))
