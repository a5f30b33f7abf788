"""Turn a failed tool run into one screen: the message, a suggestion, and
where the full traceback went."""
import difflib
import inspect
import os
import re
import sys
import tempfile
import traceback
from typing import Callable, Iterable, List, NamedTuple, Optional

DEBUG_FLAG = '--debug'
# Where run_cli writes a failed run's traceback: the run's work dir once a
# tool knows it (set_trace_dir), else the system's temporary folder.
_trace_dir: Optional[str] = None


def set_trace_dir(path: Optional[str]) -> None:
    """Make ``run_cli`` write the traceback of a failure into ``path``."""
    global _trace_dir
    _trace_dir = path


def trace_file_path() -> str:
    """The one traceback file of this process: ``last_error.txt`` in the
    work dir (``last_error_rank<N>.txt`` for other DDP ranks), overwritten
    by the next failure, so failed runs never pile files up."""
    rank = os.environ.get('RANK', '0')
    name = 'last_error.txt' if rank == '0' else f'last_error_rank{rank}.txt'
    if _trace_dir is not None:
        try:
            os.makedirs(_trace_dir, exist_ok=True)
            return os.path.join(_trace_dir, name)
        except OSError:
            pass  # an unwritable work dir: fall back to the temp folder
    user = os.environ.get('USER') or str(os.getuid())
    return os.path.join(tempfile.gettempdir(), f'nnclr_plugin_{user}_{name}')


def _registries() -> Iterable:
    """Every registry of mmengine, mmpretrain and (when installed) mmdet."""
    import mmengine.registry as root
    import mmpretrain.registry as pretrain
    modules = [root, pretrain]
    try:
        import mmdet.registry as det
        modules.append(det)
    except ImportError:
        pass
    from mmengine.registry import Registry
    seen = set()
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, Registry) and id(value) not in seen:
                seen.add(id(value))
                yield value


def registered_names() -> List[str]:
    return sorted({name for reg in _registries() for name in reg.module_dict})


def find_class(name: str):
    for reg in _registries():
        if name in reg.module_dict:
            return reg.module_dict[name]
    return None


def closest(word: str, choices: Iterable[str]) -> Optional[str]:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return found[0] if found else None


class BuildError(NamedTuple):
    """What a registry build failed on, read from its message."""
    kind: str  # 'type' (unknown registry name) or 'keyword'
    name: str  # the unknown type or keyword
    owner: Optional[str] = None  # class given the unknown keyword


def parse_build_error(message: str) -> Optional[BuildError]:
    """Parse mmengine's unknown-type and Python's unknown-keyword errors."""
    unknown_type = re.search(r'([\w.]+) is not in the [\w:]+ registry',
                             message)
    if unknown_type:
        return BuildError('type', unknown_type.group(1))
    bad_kwarg = re.search(
        r"(?:class `)?(\w+)`?(?:\.__init__\(\))?.*unexpected keyword "
        r"argument '(\w+)'", message)
    if bad_kwarg:
        return BuildError('keyword', bad_kwarg.group(2), bad_kwarg.group(1))
    return None


def suggestion(message: str) -> Optional[str]:
    """A 'did you mean' for an unknown type or keyword, when one is close."""
    if 'mmcv._ext' in message or "module named '_ext'" in message:
        return ('mmcv is installed without its compiled ops (the quick '
                'set-up of make demo); detection and segmentation configs '
                'need them: run `make setup` (builds them, about 15 min on 2 '
                'cores, or takes a cached wheel)')
    if re.search(r"mmsegmentation is not installed|No module named 'mmseg'",
                 message):
        return ('segmentation transfer configs need mmsegmentation, an '
                "optional extra: pip install -e '.[segmentation]' (make "
                'test installs it)')
    error = parse_build_error(message)
    if error is None:
        return None
    if error.kind == 'type':
        match = closest(error.name.split('.')[-1], registered_names())
        return f"did you mean type='{match}'?" if match else None
    cls = find_class(error.owner)
    if cls is None:
        return None
    params = [p for p in inspect.signature(cls).parameters
              if p not in ('self', 'args', 'kwargs')]
    match = closest(error.name, params)
    if match:
        return (f"did you mean {match}=...? {error.owner} takes "
                f"{', '.join(params)}")
    return f"{error.owner} takes {', '.join(params)}"


def config_key_of(model_cfg, message: str) -> Optional[str]:
    """The dotted config key an unknown type or keyword error is about."""
    error = parse_build_error(message)
    if error is None:
        return None

    def walk(node, path):
        if isinstance(node, dict):
            if error.kind == 'type' and node.get('type') == error.name:
                return f'{path}.type'
            if error.kind == 'keyword' and error.name in node \
                    and 'type' in node:
                return f'{path}.{error.name}'
            children = node.items()
        elif isinstance(node, (list, tuple)):
            children = enumerate(node)
        else:
            return None
        for key, child in children:
            found = walk(child, f'{path}.{key}')
            if found:
                return found
        return None

    return walk(model_cfg, 'model')


def run_cli(main: Callable[[], object]) -> None:
    """Run a tool's ``main``; on error print one screen and exit 1.

    ``--debug`` on the command line (removed before ``main`` parses it)
    or ``NNCLR_DEBUG=1`` shows the full traceback instead. Without them the
    traceback is written to :func:`trace_file_path` and that path printed.
    """
    debug = os.environ.get('NNCLR_DEBUG') == '1'
    set_trace_dir(None)
    if DEBUG_FLAG in sys.argv:
        sys.argv.remove(DEBUG_FLAG)
        debug = True
    try:
        main()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:  # noqa: B902 - the point is to catch all
        if debug:
            raise
        message = str(err).strip()
        if isinstance(err, KeyError) and len(err.args) == 1:
            message = str(err.args[0])  # str() of a KeyError adds quotes
        message = message or type(err).__name__
        tip = suggestion(message)
        trace_file = trace_file_path()
        with open(trace_file, 'w') as f:
            traceback.print_exc(file=f)
        lines = [f'error: {type(err).__name__}: {message}']
        if tip:
            lines.append(f'hint: {tip}')
        lines.append(f'(full traceback in {trace_file}; rerun with '
                     f'{DEBUG_FLAG} to print it)')
        print('\n'.join(lines), file=sys.stderr)
        sys.exit(1)
