"""Find readable checkpoints, so a truncated file never ends a resume."""
import glob
import os.path as osp
import zipfile
from typing import List, Optional

import torch
from mmengine.runner import find_latest_checkpoint

# Written into a run's work dir by SafeCheckpointHook / NonFiniteLossHook.
LAST_GOOD = 'last_good_checkpoint'
DIVERGED = 'diverged_after'


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be loaded as a checkpoint, or None if it can.

    torch's zip format is checked member by member (CRC), which finds a
    truncated or corrupted file without unpickling anything; a legacy
    (non-zip) file is loaded with torch's safe default. Remote files
    (``http://``, ``s3://``...) are not checked here: mmengine's loader
    reads them, and its own error names them.
    """
    if '://' in path:
        return None
    if not osp.isfile(path):
        return f'{path} does not exist'
    if osp.getsize(path) == 0:
        return f'{path} is empty'
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
            if bad is not None:
                return f'{path} is corrupt (member {bad} fails its CRC)'
            return None
        torch.load(path, map_location='cpu')
    except Exception as err:  # any failure means "not usable"
        return (f'{path} is not a readable checkpoint (truncated or '
                f'corrupt?): {type(err).__name__}: {err}')
    return None


def require_readable(path: str, what: str) -> str:
    """Return ``path`` or raise one message that names it."""
    problem = checkpoint_problem(path)
    if problem:
        raise RuntimeError(f'{what}: {problem}')
    return path


def read_checkpoint(path: str, what: str):
    """Load a checkpoint once (mmengine's loader: local, URL, ``s3://``);
    if that fails, raise one message that names the file.

    For a file that is read anyway, this costs no second pass over it,
    unlike checking it with :func:`checkpoint_problem` first.
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    try:
        return _load_checkpoint(path, map_location='cpu')
    except Exception as err:  # noqa: B902 - any failure: unreadable
        raise RuntimeError(
            f'{what}: {path} is not a readable checkpoint (truncated or '
            f'corrupt?): {type(err).__name__}: {err}') from err


def resume_candidates(work_dir: str) -> List[str]:
    """Checkpoints of a work dir, the one ``last_checkpoint`` names first,
    then the others from newest to oldest."""
    files = sorted(glob.glob(osp.join(work_dir, '*.pth')),
                   key=osp.getmtime, reverse=True)
    named = find_latest_checkpoint(work_dir)  # what last_checkpoint names
    if named:
        files = [named] + [p for p in files
                           if osp.abspath(p) != osp.abspath(named)]
    return files


def read_text(path: str) -> str:
    """A small state file of a work dir, stripped; '' if absent."""
    if osp.isfile(path):
        with open(path) as f:
            return f.read().strip()
    return ''


def newest_readable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` should use, skipping unreadable ones and
    one saved just before the run diverged.

    ``NonFiniteLossHook`` names in ``diverged_after`` a checkpoint whose
    weights produced a non-finite loss; ``SafeCheckpointHook`` names in
    ``last_good_checkpoint`` the newest one a finite step trained on. After
    a divergence the resume starts from the latter and says so.

    Returns None when the work dir has no checkpoint at all (a fresh run).
    Prints one line for every skipped file; raises if none is readable.
    """
    candidates = resume_candidates(work_dir)
    diverged = read_text(osp.join(work_dir, DIVERGED))
    if diverged:
        good = read_text(osp.join(work_dir, LAST_GOOD))
        if not good:
            raise RuntimeError(
                f'--resume: the run in {work_dir} diverged (non-finite loss) '
                f'right after saving {diverged}, and no checkpoint was ever '
                'trained on with a finite loss. Start a new run (without '
                '--resume), e.g. with a lower learning rate.')
        print(f'WARNING: skipping {diverged}: the run diverged right after '
              'saving it (its weights gave a non-finite loss); resuming from '
              f'the last good checkpoint {good}')
        candidates = [good] + [p for p in candidates
                               if osp.abspath(p) not in
                               (osp.abspath(good), osp.abspath(diverged))]
    problems = []
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            for line in problems:
                print(f'WARNING: skipping {line}; resuming from {path}')
            return path
        problems.append(problem)
    if problems:
        raise RuntimeError('--resume found no readable checkpoint in '
                           f'{work_dir}: ' + '; '.join(problems))
    return None


def uninitialised_keys(model, path: str) -> List[str]:
    """The model's state-dict keys a checkpoint does not provide.

    Compared as mmengine's ``load_checkpoint`` matches them (a
    ``module.`` prefix of a wrapped model's checkpoint removed).

    Args:
        model (nn.Module): The model, possibly wrapped (``.module``).
        path (str): The checkpoint (a Runner checkpoint or a bare
            state dict).

    Returns:
        list[str]: Keys of ``model.state_dict()`` absent from the file.
    """
    ckpt = read_checkpoint(path, 'checkpoint')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else {}
    provided = {k[len('module.'):] if k.startswith('module.') else k
                for k in state}
    model = getattr(model, 'module', model)
    return [k for k in model.state_dict() if k not in provided]


def require_complete_checkpoint(model, path: str) -> None:
    """Refuse to evaluate with parameters the checkpoint leaves random.

    mmengine loads non-strictly and only logs the missing keys, so a
    pretraining checkpoint given to a linear-evaluation config tests a
    random head (about chance accuracy) with exit code 0.

    Raises:
        ValueError: Naming the missing key prefixes and what to do.
    """
    missing = uninitialised_keys(model, path)
    if not missing:
        return
    prefixes = sorted({'.'.join(k.split('.')[:2]) for k in missing})
    total = len(getattr(model, 'module', model).state_dict())
    raise ValueError(
        f'checkpoint {path} leaves {len(missing)} of the model\'s {total} '
        f'tensors uninitialised ({", ".join(p + ".*" for p in prefixes)}; '
        f'e.g. {missing[0]}): their random values would be evaluated. Is '
        'it a pretraining checkpoint? tools/test.py evaluates a trained '
        'model: train the evaluation config first (tools/train.py CONFIG '
        '--cfg-options model.backbone.init_cfg.checkpoint=BACKBONE.pth, '
        'with the backbone extracted by tools/model_converters/'
        'extract_backbone_weights.py) and test that run\'s checkpoint, or '
        'evaluate the frozen backbone with tools/analysis_tools/'
        'knn_eval.py or linear_probe.py.')
