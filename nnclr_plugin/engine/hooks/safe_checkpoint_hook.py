"""CheckpointHook that never leaves a run without a readable checkpoint."""
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmpretrain.registry import HOOKS


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

    Args:
        **kwargs: Arguments of :class:`mmengine.hooks.CheckpointHook`.
    """

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
